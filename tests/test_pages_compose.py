"""The compose page: three ways in, errors next to the field, nothing queued on bad input;
the progress page and the track page's "make more" buttons."""
from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import Job
from tests.studio_fixtures import tiny_piece

pytestmark = pytest.mark.django_db


def _seed_midi(name: str = "seed.mid") -> SimpleUploadedFile:
    from generation.music.notes import piece_to_midi_bytes

    return SimpleUploadedFile(name, piece_to_midi_bytes(tiny_piece()), "audio/midi")


def _errors_of(html: str, field: str) -> str:
    """The error list rendered next to ``field`` (empty when there is none)."""
    match = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


BASE = {"bars": 8, "temperature": 1.0, "variants": 1}


def test_the_compose_page_has_a_textbox_named_mood_and_the_three_ways_in(client, owner):
    client.force_login(owner)
    html = client.get(reverse("studio:compose")).content.decode()
    assert '<label for="id_mood">Mood</label>' in html
    for way in ("From a mood", "Continue my MIDI", "Change its style"):
        assert way in html
    for label in (
        "Length in bars",
        "Temperature",
        "Variants",
        "Random seed",
        "Mode",
        "Tempo (beats per minute)",
        "Note density",
        "Register",
        "Style",
    ):
        assert f">{label}" in html
    assert 'type="submit" class="button">Generate<' in html
    assert 'data-mood-url="/api/mood/"' in html
    assert 'data-inspect-url="/api/midi/inspect/"' in html
    assert "<script>" not in html and " style=" not in html  # the CSP stays strict


def test_a_mood_makes_a_queued_job_with_the_chosen_attributes(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("studio:compose"),
        {
            **BASE,
            "way": "compose",
            "mood": "stormy night at sea, restless",
            "mode": "minor",
            "tempo_bpm": 100,
            "seed": 42,
            "style": "celtic",
        },
    )
    job = Job.objects.get(owner=owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("studio:job", args=[job.id])
    p = job.parameters
    assert p["kind"] == "compose" and p["mood"] == "stormy night at sea, restless"
    assert p["attributes"]["mode"] == "minor"  # the person's choice wins over the mood
    assert p["attributes"]["tempo_bpm"] == 100 and p["attributes"]["tempo_band"] == "moderate"
    assert p["seed"] == 42 and p["bars"] == 8 and p["style"] == "celtic"
    assert p["mood_attributes"]  # the reading is kept for the track page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"way": "compose", "mood": ""}, "mood", "Describe a mood"),
        ({"way": "compose", "mood": "!!! ???"}, "mood", "needs words or emoji"),
        ({"way": "compose", "mood": "calm", "bars": 0}, "bars", "greater than or equal to 1"),
        ({"way": "compose", "mood": "calm", "bars": 65}, "bars", "less than or equal to 64"),
        ({"way": "compose", "mood": "calm", "variants": 5}, "variants", "less than or equal to 4"),
        ({"way": "compose", "mood": "calm", "temperature": 9}, "temperature", "less than or equal"),
        ({"way": "compose", "mood": "calm", "tempo_bpm": 10}, "tempo_bpm", "greater than or equal"),
        ({"way": "compose", "mood": "calm", "mode": "lydian"}, "mode", "Select a valid choice"),
        ({"way": "continue"}, "midi", "Choose a MIDI file"),
        ({"way": "transfer", "to_style": ""}, "midi", "Choose a MIDI file"),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_queued(
    client, owner, data, field, message
):
    client.force_login(owner)
    response = client.post(reverse("studio:compose"), {**BASE, **data})
    assert response.status_code == 400
    assert message in _errors_of(response.content.decode(), field)
    assert not Job.objects.exists()


def test_a_malformed_midi_file_gets_the_music_layers_message_and_nothing_is_queued(client, owner):
    client.force_login(owner)
    bad = SimpleUploadedFile("broken.mid", b"this is not a MIDI file at all", "audio/midi")
    response = client.post(reverse("studio:compose"), {**BASE, "way": "continue", "midi": bad})
    assert response.status_code == 400
    assert "This is not a MIDI file." in _errors_of(response.content.decode(), "midi")
    assert not Job.objects.exists()


def test_a_seed_midi_makes_a_continue_job_with_its_summary(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("studio:compose"), {**BASE, "way": "continue", "midi": _seed_midi()}
    )
    assert response.status_code == 302
    job = Job.objects.get(owner=owner)
    assert job.kind == "continue" and job.input_file.endswith("input.mid")
    assert job.parameters["input_summary"]["meter"] == "4/4"


def test_transfer_needs_a_target_style_and_then_queues(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("studio:compose"), {**BASE, "way": "transfer", "midi": _seed_midi()}
    )
    assert response.status_code == 400
    assert "Choose the style" in _errors_of(response.content.decode(), "to_style")
    assert not Job.objects.exists()
    response = client.post(
        reverse("studio:compose"),
        {**BASE, "way": "transfer", "midi": _seed_midi(), "to_style": "celtic"},
    )
    assert response.status_code == 302
    assert Job.objects.get(owner=owner).parameters["to_style"] == "celtic"


def test_over_the_per_user_limit_the_form_says_so_and_answers_429(client, owner, settings):
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 1
    client.force_login(owner)
    assert (
        client.post(
            reverse("studio:compose"), {**BASE, "way": "compose", "mood": "calm"}
        ).status_code
        == 302
    )
    response = client.post(reverse("studio:compose"), {**BASE, "way": "compose", "mood": "calm"})
    assert response.status_code == 429
    assert "jobs waiting or running" in response.content.decode()
    assert Job.objects.count() == 1


def test_the_progress_page_is_the_owners_and_shows_stage_and_cancel(client, owner, stranger):
    job = Job.objects.create(
        owner=owner,
        kind="compose",
        parameters={"mood": "calm"},
        status=Job.Status.RUNNING,
        progress=30,
        stage="composing",
    )
    client.force_login(stranger)
    assert client.get(reverse("studio:job", args=[job.id])).status_code == 404
    assert client.post(reverse("studio:job-cancel", args=[job.id])).status_code == 404
    client.force_login(owner)
    html = client.get(reverse("studio:job", args=[job.id])).content.decode()
    assert 'value="30"' in html and "Composing" in html
    assert f'data-ws-path="/ws/jobs/{job.id}/"' in html
    assert f'data-poll-url="/api/jobs/{job.id}/"' in html
    assert ">Cancel<" in html
    client.post(reverse("studio:job-cancel", args=[job.id]))
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED


def test_a_failed_job_says_why_and_offers_to_try_again_with_the_same_settings(client, owner):
    job = Job.objects.create(
        owner=owner,
        kind="compose",
        status=Job.Status.FAILED,
        parameters={"kind": "compose", "mood": "quiet rain", "bars": 12},
        error="The composition model has not been trained yet.",
    )
    client.force_login(owner)
    html = client.get(reverse("studio:job", args=[job.id])).content.decode()
    assert "The composition model has not been trained yet." in html
    retry = reverse("studio:compose") + f"?job={job.id}"
    assert f'href="{retry}">Try again<' in html
    form = client.get(retry).content.decode()
    assert "quiet rain</textarea>" in form and 'value="12"' in form


def test_a_done_job_goes_to_its_track_or_shows_its_variants_side_by_side(client, owner, make_track):
    one = make_track(owner)
    client.force_login(owner)
    response = client.get(reverse("studio:job", args=[one.job_id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("studio:track", args=[one.id])
    three = make_track(owner, variants=3, title="Waves")
    html = client.get(reverse("studio:job", args=[three[0].job_id])).content.decode()
    assert "3 variants, side by side" in html
    for t in three:
        assert reverse("studio:track", args=[t.id]) in html
    assert html.count("<audio controls") == 3


def test_regenerate_continue_and_change_style_queue_new_jobs_from_the_track(
    client, owner, make_track
):
    track = make_track(owner)
    client.force_login(owner)
    r = client.post(reverse("studio:track-regenerate", args=[track.id]))
    regen = Job.objects.exclude(id=track.job_id).get()
    assert r["Location"] == reverse("studio:job", args=[regen.id])
    assert regen.kind == "compose" and regen.parameters["mood"] == "calm morning by the sea"
    assert regen.parameters["bars"] == 4 and regen.parameters["style"] == "chorale"
    regen.delete()
    client.post(reverse("studio:track-continue", args=[track.id]))
    cont = Job.objects.exclude(id=track.job_id).get()
    assert cont.kind == "continue" and cont.parameters["input_summary"]["bars"] == 4
    cont.delete()
    client.post(reverse("studio:track-transfer", args=[track.id]), {"to_style": "celtic"})
    transfer = Job.objects.exclude(id=track.job_id).get()
    assert transfer.kind == "transfer" and transfer.parameters["to_style"] == "celtic"


def test_change_the_settings_first_fills_the_form_from_the_track(client, owner, make_track):
    track = make_track(owner, parameters={"attributes": {"mode": "minor", "tempo_bpm": 120.0}})
    client.force_login(owner)
    html = client.get(reverse("studio:compose") + f"?track={track.id}").content.decode()
    assert "calm morning by the sea</textarea>" in html
    assert '<option value="minor" selected>' in html  # chosen, unlike the mood's "major"
    assert '<option value="chorale" selected>' in html
