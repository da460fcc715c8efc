"""With mail configured (STUDIO_REQUIRE_VERIFIED_EMAIL), a new account confirms its email
address by a link before its first job; changing the address asks again."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from generation.models import Job
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
JOB = json.dumps({"kind": "compose", "bars": 2})


@pytest.fixture
def required(settings):
    settings.STUDIO_REQUIRE_VERIFIED_EMAIL = True


def _submit(client):
    return client.post("/api/jobs/", JOB, content_type="application/json")


def _link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/verify/\S+/)", message.body).group(1)


def _sign_up(client, username="ada", email="ada@example.com"):
    response = client.post("/accounts/signup/", {
        "username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    return get_user_model().objects.get(username=username)


def test_a_new_account_confirms_its_address_before_its_first_job(client, required):
    _sign_up(client)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    response = _submit(client)
    assert response.status_code == 429
    assert "Confirm your email address first" in response.json()["error"]
    assert not Job.objects.exists()
    assert "Send the link again" in client.get("/accounts/profile/").content.decode()

    assert client.get(_link(mail.outbox[0])).status_code == 302
    assert _submit(client).status_code == 202
    assert "Send the link again" not in client.get("/accounts/profile/").content.decode()


def test_changing_the_address_asks_to_confirm_the_new_one(client, required):
    _sign_up(client)
    client.get(_link(mail.outbox[0]))
    old_link = _link(mail.outbox[0])
    client.post("/accounts/profile/", {"email": "ada@new.example.com", "first_name": "",
                                       "current_password": PASSWORD})
    assert mail.outbox[-1].to == ["ada@new.example.com"]
    assert _submit(client).status_code == 429
    client.get(old_link)  # a link made for the old address confirms nothing now
    assert _submit(client).status_code == 429
    client.get(_link(mail.outbox[-1]))
    assert _submit(client).status_code == 202


def test_a_forged_link_confirms_nothing(client, required):
    _sign_up(client)
    link = _link(mail.outbox[0])
    response = client.get(link[:-3] + "xx/", follow=True)
    assert "not valid any more" in response.content.decode()
    assert _submit(client).status_code == 429


def test_resending_is_limited(client, required, settings):
    settings.STUDIO_RESET_MAILS_PER_EMAIL = 2
    _sign_up(client)
    client.post("/accounts/verify-again/")
    client.post("/accounts/verify-again/")
    assert len(mail.outbox) == 2


def test_without_mail_configured_nothing_is_asked(client, settings):
    settings.STUDIO_REQUIRE_VERIFIED_EMAIL = False
    _sign_up(client)
    assert mail.outbox == []
    assert _submit(client).status_code == 202
