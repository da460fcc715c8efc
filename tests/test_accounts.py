"""Sign-up, log-in, log-out, password change and reset, account deletion, throttling."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "an0ther-Strong-secret"


def test_signing_up_logs_the_new_user_straight_in(client):
    response = client.post("/accounts/signup/", {
        "username": "ada", "email": "ada@example.com",
        "password1": PASSWORD, "password2": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert response.context["user"].username == "ada"
    assert response.context["user"].is_authenticated
    assert get_user_model().objects.filter(username="ada", email="ada@example.com").exists()


def test_sign_up_rejects_a_weak_password_next_to_the_field(client):
    response = client.post("/accounts/signup/", {
        "username": "bob", "email": "bob@example.com",
        "password1": "12345678", "password2": "12345678"})
    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    assert 'id="id_password2_error"' in response.content.decode()
    assert not get_user_model().objects.filter(username="bob").exists()


def test_log_in_and_log_out(client, owner):
    response = client.post("/accounts/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/accounts/profile/").status_code == 200
    # log out is a POST; a GET must not log anyone out
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert client.get("/accounts/profile/").status_code == 302


def test_password_change(client, owner):
    client.force_login(owner)
    response = client.post("/accounts/password/change/", {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)


def test_password_reset_email_link_sets_a_new_password(client, owner):
    response = client.post("/accounts/password/reset/", {"email": owner.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    match = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body)
    assert match, mail.outbox[0].body
    # the link redirects once to a token-free URL, then shows the form
    response = client.get(match.group(1), follow=True)
    assert response.context["validlink"] is True
    set_url = response.redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": NEW_PASSWORD,
                                     "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    # a used link is dead
    response = client.get(match.group(1), follow=True)
    assert response.context["validlink"] is False


def test_password_reset_for_an_unknown_email_sends_nothing(client):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_profile_edits_the_email(client, owner):
    client.force_login(owner)
    client.post("/accounts/profile/", {"email": "new@example.com", "first_name": "Owen",
                                       "current_password": PASSWORD})
    owner.refresh_from_db()
    assert owner.email == "new@example.com" and owner.first_name == "Owen"


def test_account_deletion_needs_the_password_and_removes_the_user(client, owner):
    client.force_login(owner)
    response = client.get("/accounts/delete/")
    assert "anonymous" in response.content.decode()
    response = client.post("/accounts/delete/", {"password": "wrong", "confirm": "on"})
    assert response.status_code == 200
    assert get_user_model().objects.filter(pk=owner.pk).exists()
    response = client.post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=owner.pk).exists()
    assert client.get("/accounts/profile/").status_code == 302


def test_login_is_throttled_per_account(client, owner, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "owner", "password": "nope"})
    # now even the right password is refused for a while
    response = client.post("/accounts/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed" in response.content.decode()
    assert client.get("/accounts/profile/").status_code == 302


def test_login_is_throttled_per_ip_across_accounts(client, make_user, settings):
    for i in range(settings.STUDIO_LOGIN_FAILURES_PER_IP):
        client.post("/accounts/login/", {"username": f"guess{i}", "password": "nope"},
                    REMOTE_ADDR="10.9.8.7")
    make_user("victim")
    response = client.post("/accounts/login/", {"username": "victim", "password": PASSWORD},
                           REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 429
    # another address is not affected
    response = client.post("/accounts/login/", {"username": "victim", "password": PASSWORD},
                           REMOTE_ADDR="10.9.8.8")
    assert response.status_code == 302


def test_landing_page_explains_and_offers_sign_up(client):
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Sign up" in html and "mood" in html
    assert "<script>" not in html  # no inline scripts: the CSP forbids them
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
