"""API tokens end: after STUDIO_API_TOKEN_DAYS, and with a password change or reset; the
profile page lists a user's tokens and revokes one."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from generation.models import ApiToken
from tests.conftest import PASSWORD
from tests.jobs_fixtures import api

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "an0ther-Strong-secret"


def _works(token_client) -> bool:
    status = token_client.get("/api/jobs/").status_code
    assert status in (200, 401)
    return status == 200


def test_a_token_stops_working_after_its_lifetime(owner, settings):
    settings.STUDIO_API_TOKEN_DAYS = 30
    client = api(owner)
    assert _works(client)
    ApiToken.objects.filter(user=owner).update(
        created_at=timezone.now() - timedelta(days=30, minutes=1))
    assert not _works(client)


def test_a_password_change_ends_the_accounts_tokens(client, owner, stranger):
    mine, theirs = api(owner), api(stranger)
    client.force_login(owner)
    response = client.post("/accounts/password/change/", {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert not _works(mine)
    assert _works(theirs)


def test_a_password_reset_ends_the_accounts_tokens(client, owner):
    mine = api(owner)
    client.post("/accounts/password/reset/", {"email": owner.email})
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": NEW_PASSWORD,
                                      "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert not _works(mine)


def test_the_profile_lists_tokens_and_revokes_one(client, owner, stranger):
    first, second = api(owner), api(owner)
    tokens = list(ApiToken.objects.filter(user=owner).order_by("id"))
    client.force_login(owner)
    html = client.get("/accounts/profile/").content.decode()
    assert all(t.digest[:8] in html for t in tokens)
    url = f"/accounts/tokens/{tokens[0].id}/revoke/"
    assert client.get(url).status_code == 405
    other = Client()
    other.force_login(stranger)
    assert other.post(url).status_code == 404
    assert _works(first)
    assert client.post(url).status_code == 302
    assert not _works(first) and _works(second)
    assert tokens[0].digest[:8] not in client.get("/accounts/profile/").content.decode()
