"""Blind listening sessions: what a session holds, answers stored once each, bad input kept
out, and nothing on the pages, in the URLs or in the audio that says what a clip is."""
from __future__ import annotations

import random
import re

import pytest
from django.urls import reverse

from studio import listening
from studio.models import BlindRating, ListeningSession, PairwiseAnswer
from tests.listening_fixtures import SECRET_TITLE, fill_pool

pytestmark = pytest.mark.django_db


def test_a_session_mixes_tracks_references_a_check_and_a_second_hearing(
    stranger, make_user, make_track, rendered_variant
):
    composer, tracks, reference, noise = fill_pool(make_user, make_track, rendered_variant,
                                                   tracks=3)
    make_track(stranger, visibility="public", title="Mine")  # never played to its owner
    make_track(composer, visibility="private", title="Private")  # never played to others
    session = listening.start_session(user=stranger, rng=random.Random(1), singles=2, pairs=1)
    modes = [s["mode"] for s in session.plan]
    assert modes.count("pair") == 1 and len(session.plan) == 5
    heard = {c for s in session.plan for c in ([s["clip"]] if s["mode"] == "single"
                                               else [s["a"], s["b"]])}
    from studio.models import ListeningClip

    kinds = {c.kind for c in ListeningClip.objects.filter(id__in=heard)}
    titles = {c.track.title for c in ListeningClip.objects.filter(id__in=heard, track__isnull=False)}
    assert "noise" in kinds
    assert titles <= {t.title for t in tracks}
    repeat = session.plan[-1]
    assert repeat["repeat"] is True
    assert any(s["mode"] == "single" and s["clip"] == repeat["clip"] and not s["repeat"]
               for s in session.plan[:-1])


def test_no_session_without_music(client, stranger):
    client.force_login(stranger)
    r = client.post(reverse("studio:listen-start"), follow=True)
    assert "not enough music" in r.content.decode()
    assert not ListeningSession.objects.exists()


def _answer_all(client, session):
    for number in range(1, len(session.plan) + 1):
        step = session.plan[number - 1]
        values = ({"overall": 4, "mood_match": 3, "style_match": 2} if step["mode"] == "single"
                  else {"more_musical": "a", "fits_mood": "b"})
        r = client.post(reverse("studio:listen-step"), {"step": number, **values})
        assert r.status_code == 302


def test_the_pages_urls_and_audio_say_nothing_about_a_clip(
    client, stranger, make_user, make_track, rendered_variant
):
    composer, tracks, reference, noise = fill_pool(make_user, make_track, rendered_variant)
    client.force_login(stranger)
    client.post(reverse("studio:listen-start"))
    session = ListeningSession.objects.get()
    secrets_ = [SECRET_TITLE, "composer-zed", "test-model-1", "reference", "noise",
                "generated", "v1", "v2", "calm morning", *[f"/tracks/{t.id}/" for t in tracks],
                *[t.share_token for t in tracks], *[f"/api/tracks/{t.id}" for t in tracks]]
    seen_audio = 0
    for number in range(1, len(session.plan) + 1):
        r = client.get(reverse("studio:listen-step"))
        html = r.content.decode()
        assert r.status_code == 200 and f"Clip {number} of {len(session.plan)}" in html
        # random strings (the form's CSRF token, the clips' tokens) may hold anything
        html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)
        html = re.sub(r"/listen/audio/[A-Za-z0-9_-]+", "/listen/audio/", html)
        for secret in secrets_:
            assert secret not in html, (secret, number)
        for src in re.findall(r'<audio[^>]* src="([^"]+)"', r.content.decode()):
            assert re.fullmatch(r"/listen/audio/[A-Za-z0-9_-]{16}", src), src
            audio = client.get(src)
            assert audio.status_code == 200 and audio["Content-Type"].startswith("audio/")
            assert audio["Content-Disposition"] == "inline"  # no file name at all
            body = b"".join(audio.streaming_content)
            for secret in (SECRET_TITLE, "composer", "Morning song", "Cadenza"):
                assert secret.encode() not in body
            assert b"TIT2" not in body and b"TPE1" not in body  # no ID3 title or artist
            seen_audio += 1
        step = session.plan[number - 1]
        values = ({"overall": 4, "mood_match": 3, "style_match": 2} if step["mode"] == "single"
                  else {"more_musical": "a", "fits_mood": "b"})
        client.post(reverse("studio:listen-step"), {"step": number, **values})
    assert seen_audio == len(session.plan) + 1  # the pair has two players
    assert client.get(reverse("studio:listen-step")).status_code == 302


def test_answers_are_stored_once_and_bad_answers_are_sent_back(
    client, stranger, make_user, make_track, rendered_variant
):
    fill_pool(make_user, make_track, rendered_variant)
    client.force_login(stranger)
    client.post(reverse("studio:listen-start"))
    session = ListeningSession.objects.get()
    first = session.plan[0]
    bad = ({"overall": 9, "mood_match": 3, "style_match": 2} if first["mode"] == "single"
           else {"more_musical": "c", "fits_mood": "b"})
    r = client.post(reverse("studio:listen-step"), {"step": 1, **bad})
    assert r.status_code == 400 and 'role="alert"' in r.content.decode()
    assert not BlindRating.objects.exists() and not PairwiseAnswer.objects.exists()
    _answer_all(client, session)
    # the same step sent again (a double click, an old tab) changes nothing
    client.post(reverse("studio:listen-step"), {"step": 1, "overall": 1, "mood_match": 1,
                                                "style_match": 1})
    session.refresh_from_db()
    assert session.finished_at is not None
    assert BlindRating.objects.count() + PairwiseAnswer.objects.count() == len(session.plan)


def test_a_listener_may_stop_at_any_time_and_keeps_what_was_answered(
    client, stranger, make_user, make_track, rendered_variant
):
    fill_pool(make_user, make_track, rendered_variant)
    client.force_login(stranger)
    client.post(reverse("studio:listen-start"))
    session = ListeningSession.objects.get()
    step = session.plan[0]
    values = ({"overall": 4, "mood_match": 3, "style_match": 2} if step["mode"] == "single"
              else {"more_musical": "a", "fits_mood": "b"})
    client.post(reverse("studio:listen-step"), {"step": 1, **values})
    r = client.post(reverse("studio:listen-stop"))
    assert r.status_code == 302 and r["Location"] == reverse("studio:listen-done")
    session.refresh_from_db()
    assert session.finished_at and session.position == 1
    assert BlindRating.objects.count() + PairwiseAnswer.objects.count() == 1


def test_a_clip_is_served_only_inside_the_listeners_open_session(
    client, stranger, make_user, make_track, rendered_variant
):
    composer, tracks, reference, noise = fill_pool(make_user, make_track, rendered_variant)
    client.force_login(stranger)
    url = reverse("studio:listen-audio", args=[reference.token])
    assert client.get(url).status_code == 404  # no session yet
    client.post(reverse("studio:listen-start"))
    assert client.get(url).status_code == 200
    client.force_login(make_user("other"))
    assert client.get(url).status_code == 404  # not in their session


def test_references_and_checks_are_rendered_like_tracks_under_names_that_say_nothing(
    settings, tmp_path
):
    import io

    from django.core.management import call_command

    from studio.models import ListeningClip

    settings.MEDIA_ROOT = str(tmp_path)
    out = io.StringIO()
    call_command("listening_clips", "--references", "1", "--checks", "1", "--bars", "2",
                 stdout=out)
    assert "made 1 references and 1 attention checks" in out.getvalue()
    reference = ListeningClip.objects.get(kind="reference")
    check = ListeningClip.objects.get(kind="noise")
    assert reference.model_version == "reference" and reference.parameters["bars"] == 2
    for clip in (reference, check):
        assert re.fullmatch(rf"listening/{re.escape(clip.token)}\.(mp3|ogg)", clip.audio)
        body = (tmp_path / clip.audio).read_bytes()
        assert len(body) > 1000 and b"TIT2" not in body


def test_an_attention_check_is_random_notes_of_the_asked_length():
    from generation.ml.listening import random_notes

    piece = random_notes(4, random.Random(2))
    assert piece.bars == 4 and len({n.pitch for n in piece.parts[0].notes}) > 5
