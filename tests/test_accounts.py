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


def test_deleting_an_account_removes_its_tracks_jobs_and_files_and_keeps_others(
    client, owner, stranger, make_track, settings, django_capture_on_commit_callbacks
):
    from pathlib import Path

    from generation import services
    from generation.models import Job, Track
    from generation.music.notes import piece_to_midi_bytes
    from studio.models import Rating
    from studio.services import rate_track
    from tests.studio_fixtures import tiny_piece

    media = Path(settings.MEDIA_ROOT)
    mine = [make_track(owner), make_track(owner, visibility="public")]
    theirs = make_track(stranger, visibility="public")
    with django_capture_on_commit_callbacks(execute=True):
        queued = services.submit_job(user=owner, kind="continue", params={"bars": 2},
                                     midi_bytes=piece_to_midi_bytes(tiny_piece()))
    rate_track(user=owner, track=theirs, overall=5, mood_match=4, style_match=3)
    my_files = [media / t.media_dir for t in mine] + [media / queued.input_file]
    assert all(p.exists() for p in my_files)
    assert any((media / theirs.media_dir).iterdir())

    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=owner.pk).exists()
    assert not Track.objects.filter(id__in=[t.id for t in mine]).exists()
    assert not Job.objects.filter(id=queued.id).exists()
    assert [p for p in my_files if p.exists()] == []
    assert not (media / services.job_folder(queued.id)).exists()
    # the other listener's track and files stay; the rating stays, anonymous
    assert Track.objects.filter(id=theirs.id).exists()
    assert sorted(p.name for p in (media / theirs.media_dir).iterdir())
    rating = Rating.objects.get(track=theirs)
    assert rating.user is None and rating.overall == 5


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
