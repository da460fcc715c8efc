"""Lockouts cannot be turned against users: failed log-ins lock the (username, address) pair,
one address is paused only at a higher limit, the forwarded address is believed only behind
a trusted proxy; sign-up and password reset do not tell which emails have accounts; the
password guards email changes and is itself throttled."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import RequestFactory

from studio.clientip import client_ip
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def _fail(client, username, address, forwarded=None):
    extra = {"REMOTE_ADDR": address}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    response = client.post(LOGIN, {"username": username, "password": "wrong"}, **extra)
    assert response.status_code in (200, 429)
    return response


def _login(client, username, address, forwarded=None):
    extra = {"REMOTE_ADDR": address}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(LOGIN, {"username": username, "password": PASSWORD}, **extra).status_code


def test_a_stranger_naming_an_account_does_not_lock_its_owner_out(client, owner, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        _fail(client, "owner", "203.0.113.66")
    assert _login(client.__class__(), "owner", "198.51.100.1") == 302
    # the stranger's own address is locked for that account, even with the right password
    assert _login(client.__class__(), "owner", "203.0.113.66") == 429


def test_one_address_is_paused_at_a_higher_limit_whatever_the_usernames(
        client, make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.STUDIO_LOGIN_FAILURES_PER_IP = 8
    make_user("victim")
    for i in range(7):  # more than the pair limit, each on another name
        _fail(client, f"guess{i}", "192.0.2.7")
    assert _login(client.__class__(), "victim", "192.0.2.7") == 302
    _fail(client, "guess-last", "192.0.2.7")
    response = client.__class__().post(LOGIN, {"username": "victim", "password": PASSWORD},
                                       REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 429 and "Too many failed" in response.content.decode()
    assert _login(client.__class__(), "victim", "192.0.2.8") == 302


def test_the_forwarded_address_is_ignored_unless_a_proxy_is_trusted(client, owner, settings):
    # not trusted: a made-up X-Forwarded-For on each try does not escape the lock
    for i in range(settings.AXES_FAILURE_LIMIT):
        _fail(client, "owner", "10.0.0.2", forwarded=f"198.51.100.{i}")
    assert _login(client.__class__(), "owner", "10.0.0.2", forwarded="198.51.100.200") == 429


def test_behind_a_trusted_proxy_each_client_is_its_own_address(client, owner, settings):
    settings.STUDIO_TRUSTED_PROXY_COUNT = 1
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _fail(client, "owner", "10.0.0.2", forwarded="198.51.100.9")
    # everyone comes through the proxy's address; only the guesser is locked
    assert _login(client.__class__(), "owner", "10.0.0.2", forwarded="198.51.100.10") == 302
    assert _login(client.__class__(), "owner", "10.0.0.2", forwarded="198.51.100.9") == 429


@pytest.mark.parametrize("count, forwarded, expected", [
    (0, "198.51.100.9", "10.0.0.2"),
    (1, "198.51.100.9", "198.51.100.9"),
    (1, "6.6.6.6, 198.51.100.9", "198.51.100.9"),  # the client's own prefix is not believed
    (2, "6.6.6.6, 198.51.100.9, 10.0.0.1", "198.51.100.9"),
    (2, "198.51.100.9", "10.0.0.2"),  # shorter than the proxy chain: the connection
    (1, "not-an-address", "10.0.0.2"),
])
def test_client_ip_reads_the_header_only_as_far_as_the_trusted_proxies(
        settings, count, forwarded, expected):
    settings.STUDIO_TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_signing_up_with_a_taken_email_looks_like_any_sign_up(client, owner):
    def sign_up(username, email):
        c = client.__class__()
        response = c.post("/accounts/signup/", {
            "username": username, "email": email,
            "password1": PASSWORD, "password2": PASSWORD})
        return response.status_code, response.get("Location")

    assert sign_up("newcomer", "fresh@example.com") == sign_up("copycat", owner.email.upper())
    assert get_user_model().objects.filter(username="copycat").exists()


def _unmasked(page: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", page)


def test_password_reset_answers_alike_for_known_and_unknown_emails(client, owner):
    known = client.post("/accounts/password/reset/", {"email": owner.email}, follow=True)
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.com"},
                          follow=True)
    assert known.redirect_chain == unknown.redirect_chain
    # the page is the same byte for byte, but for the CSRF token, masked afresh per response
    assert _unmasked(known.content) == _unmasked(unknown.content)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]


def test_changing_the_email_asks_for_the_password(client, owner):
    client.force_login(owner)
    for password in ("", "wrong"):
        response = client.post("/accounts/profile/", {
            "email": "thief@example.com", "first_name": "", "current_password": password})
        assert response.status_code == 200
        assert "current_password" in response.context["form"].errors
        owner.refresh_from_db()
        assert owner.email == "owner@example.com"
    # the display name alone needs no password
    client.post("/accounts/profile/", {"email": "owner@example.com", "first_name": "Owen"})
    owner.refresh_from_db()
    assert owner.first_name == "Owen"
    client.post("/accounts/profile/", {
        "email": "new@example.com", "first_name": "Owen", "current_password": PASSWORD})
    owner.refresh_from_db()
    assert owner.email == "new@example.com"


@pytest.mark.parametrize("url, field, extra", [
    ("/accounts/delete/", "password", {"confirm": "on"}),
    ("/accounts/password/change/", "old_password",
     {"new_password1": "an0ther-Strong-secret", "new_password2": "an0ther-Strong-secret"}),
])
def test_password_checks_of_a_logged_in_user_are_throttled(
        client, owner, settings, url, field, extra):
    client.force_login(owner)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(url, {field: "wrong", **extra})
        assert "That is not your password." in response.content.decode()
    response = client.post(url, {field: PASSWORD, **extra})
    assert response.status_code == 200
    assert "Too many wrong passwords" in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_password_reset_mail_is_throttled_per_email_and_per_address(
        client, owner, make_user, settings):
    settings.STUDIO_RESET_MAILS_PER_EMAIL = 2
    settings.STUDIO_RESET_MAILS_PER_IP = 3
    pages = set()
    for _ in range(4):
        response = client.post("/accounts/password/reset/", {"email": owner.email},
                               REMOTE_ADDR="192.0.2.1", follow=True)
        pages.add(_unmasked(response.content))
    assert len(pages) == 1  # the same answer, sent or not
    assert len(mail.outbox) == 2
    # from another address, the limit per email address still holds
    client.post("/accounts/password/reset/", {"email": owner.email}, REMOTE_ADDR="192.0.2.2")
    assert len(mail.outbox) == 2
    # one address asking for many accounts is stopped too
    for i in range(3):
        make_user(f"user{i}")
    mail.outbox.clear()
    for i in range(3):
        client.post("/accounts/password/reset/", {"email": f"user{i}@example.com"},
                    REMOTE_ADDR="192.0.2.3")
    # the fourth from that address is not sent, though user0's address had only one
    client.post("/accounts/password/reset/", {"email": "user0@example.com"},
                REMOTE_ADDR="192.0.2.3")
    client.post("/accounts/password/reset/", {"email": "user1@example.com"},
                REMOTE_ADDR="192.0.2.4")
    assert [m.to for m in mail.outbox] == [["user0@example.com"], ["user1@example.com"],
                                           ["user2@example.com"], ["user1@example.com"]]
