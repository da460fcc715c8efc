"""Hostile MIDI files sent over HTTP, as a browser or a script would send them: to the jobs API,
to the compose page and to the inspect endpoint. One file of each kind of refusal from the set
the validator's own tests use (tests/data/hostile_midi): each gets its plain message, a 400,
and nothing is queued or written. And a file that passes validation but is hard to engrave and
render: its job still ends with MIDI and audio."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import Job, Track
from tests.jobs_fixtures import api

pytestmark = pytest.mark.django_db

HOSTILE_DIR = Path(__file__).resolve().parent / "data" / "hostile_midi"
MANIFEST = json.loads((HOSTILE_DIR / "MANIFEST.json").read_text())
# the first file (by name) of each kind of refusal, told apart by the message it must get
ONE_OF_EACH_KIND = sorted(
    {entry["message_contains"]: name for name, entry in sorted(MANIFEST.items(), reverse=True)}
    .values()
)


def _api_message(name: str) -> str:
    """What the jobs API's refusal must say. An empty upload is no file at all to it: it asks
    for one ("continue needs a MIDI file") before the validator runs; the form ("The submitted
    file is empty.") and the inspect endpoint ("This file is empty.") say "empty"."""
    return "MIDI file" if name == "zero_bytes.mid" else MANIFEST[name]["message_contains"]


def _upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (HOSTILE_DIR / name).read_bytes(), "audio/midi")


def _nothing_was_queued(settings) -> None:
    assert not Job.objects.exists()
    jobs_dir = Path(settings.MEDIA_ROOT) / "jobs"
    assert not jobs_dir.exists() or not any(jobs_dir.iterdir())


def test_the_sample_covers_every_kind_of_refusal():
    kinds = {MANIFEST[name]["message_contains"] for name in ONE_OF_EACH_KIND}
    assert kinds == {entry["message_contains"] for entry in MANIFEST.values()}
    assert len(ONE_OF_EACH_KIND) >= 20


@pytest.mark.parametrize("name", ONE_OF_EACH_KIND)
def test_the_jobs_api_refuses_each_kind_of_hostile_file(name, owner, settings):
    client = api(owner)
    for kind, extra in (("continue", {}), ("transfer", {"to_style": "celtic"})):
        response = client.post("/api/jobs/", {"kind": kind, "midi": _upload(name), **extra})
        assert response.status_code == 400, (name, kind, response.content)
        assert _api_message(name) in response.json()["error"], name
    response = client.post("/api/midi/inspect/", {"midi": _upload(name)})
    assert response.status_code == 400, (name, response.content)
    assert MANIFEST[name]["message_contains"] in response.json()["error"], name
    _nothing_was_queued(settings)


@pytest.mark.parametrize("name", ONE_OF_EACH_KIND)
def test_the_compose_page_refuses_each_kind_of_hostile_file_next_to_the_field(
    name, client, owner, settings
):
    client.force_login(owner)
    response = client.post(
        reverse("studio:compose"),
        {"bars": 8, "temperature": 1.0, "variants": 1, "way": "continue", "midi": _upload(name)},
    )
    assert response.status_code == 400, name
    found = re.search(
        r'<ul class="errorlist" id="id_midi_error">(.*?)</ul>', response.content.decode(), re.S
    )
    assert found, f"no error next to the file field for {name}"
    assert MANIFEST[name]["message_contains"] in html.unescape(found.group(1)), name
    _nothing_was_queued(settings)


def awkward_piece():
    """Valid by every limit, awkward for notation and synthesis: meters of 5/8, 7/8 and 4/4,
    onsets on fifths and sevenths of a beat, a one-tick note, overlapping notes of different
    lengths in one part, the lowest and highest MIDI pitches, a tempo change mid-note, a drum
    part, and twelve parts."""
    from generation.music.notes import Note, Part, Piece

    odd = [Note(round(i / 7, 6), 60 + (i * 5) % 24, 1 / 7, 90) for i in range(35)]
    odd += [Note(5 + i / 5, 72 - i, 0.2, 64) for i in range(10)]
    odd += [Note(0.0, 0, 9.5, 40), Note(0.5, 127, 1 / 480, 127)]  # extremes; a one-tick note
    overlap = [Note(0.0, 48, 3.3, 70), Note(1.0, 52, 0.7, 70), Note(1.1, 55, 5.0, 70)]
    parts = [Part(notes=odd, program=0, name="Odd"), Part(notes=overlap, program=32, name="Lap")]
    parts += [
        Part(notes=[Note(float(b) + p / 11, 40 + 3 * p, 0.9, 60) for b in range(8)],
             program=40 + p, name=f"Part {p}")
        for p in range(9)
    ]
    parts.append(Part(notes=[Note(i * 0.5, 36 + i % 3, 0.1, 100) for i in range(16)],
                      program=0, is_drum=True, name="Kit"))
    return Piece(
        parts=parts,
        tempos=[(0.0, 200.0), (1.25, 41.0), (6.0, 133.0)],
        time_signatures=[(0.0, 5, 8), (2.5, 7, 8), (6.0, 4, 4)],
        title="Awkward",
    )


@pytest.mark.django_db(transaction=True)
def test_a_valid_file_that_is_hard_to_render_still_becomes_a_track(owner, settings):
    """Uploaded over HTTP, validated, and run through the worker's job code (the transfer
    test engine returns the seed up a fifth, so the renderer gets this file's awkwardness):
    the job ends done, with MIDI and audio of the whole piece; a score when one is made is
    well-formed."""
    import xml.etree.ElementTree as ET

    from generation.consumers import WorkerRuntime
    from generation.music.notes import piece_to_midi_bytes
    from tests.track_checks import audio_seconds, media, png_size

    settings.STUDIO_TRANSFER_MODULE = "tests.jobs_engine"
    data = piece_to_midi_bytes(awkward_piece())
    client = api(owner)
    inspected = client.post("/api/midi/inspect/", {"midi": SimpleUploadedFile("a.mid", data)})
    assert inspected.status_code == 200, inspected.content
    response = client.post(
        "/api/jobs/",
        {"kind": "transfer", "to_style": "celtic", "midi": SimpleUploadedFile("a.mid", data)},
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert WorkerRuntime().run_job(job_id) == "done", Job.objects.get(id=job_id).error
    track = Track.objects.get(job_id=job_id)
    from generation.music.notes import piece_from_midi

    result = piece_from_midi(media(track.files["midi"]))
    assert len(result.parts) == 12
    music = result.beat_to_seconds(result.end_beat)
    assert music - 0.1 <= audio_seconds(media(track.files["audio"])) <= music + 6.0
    png_size(media(track.files["pianoroll"]))
    assert audio_seconds(media(track.files["original_audio"])) > 1.0
    if "musicxml" in track.files:
        assert ET.parse(media(track.files["musicxml"])).getroot().tag == "score-partwise"
        for page in track.files["svg"]:
            assert ET.parse(media(page)).getroot().tag.endswith("svg")
