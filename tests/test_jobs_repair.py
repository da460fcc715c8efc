"""Repair jobs through the API (issue 15): ``infill`` rewrites chosen bars of a track (yours,
or a public one you remix) and ``harmonize`` writes voices under a melody (a track or an
upload). The results are new tracks that record their parent and what changed. The jobs run
in this process with the committed v2 model (generation/checkpoints/grid_v2), not a stand-in:
"outside the selection nothing changes" is read back from the files the worker wrote."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.test import Client

from generation import services
from generation.models import Job, Track
from generation.music.notes import Note, Part, Piece, piece_from_midi, piece_to_midi_bytes
from studio import selectors
from tests.jobs_fixtures import api

pytestmark = [pytest.mark.django_db(transaction=True)]

TUNE = [67, 69, 71, 72, 74, 72, 71, 69, 67, 71, 74, 76, 74, 72, 71, 67]


def folk_tune(bars: int = 8, title: str = "Hill song") -> Piece:
    """One line, ``bars`` bars of 4/4 in G major, a note a beat."""
    notes = [Note(float(i), TUNE[i % len(TUNE)], 1.0, 80) for i in range(4 * bars)]
    return Piece(parts=[Part(notes=notes, program=73, name="Flute")], tempos=[(0.0, 120.0)],
                 time_signatures=[(0.0, 4, 4)], key="G major", title=title)


@pytest.fixture(scope="module")
def rendered_tune(tmp_path_factory):
    from generation.pipeline import render_variant

    folder = tmp_path_factory.mktemp("tune") / "variant"
    return folder, render_variant(folk_tune(), folder, boundary_beat=None, timings={})


def run_in_this_process(job_id: int) -> str:
    from generation.consumers import WorkerRuntime

    return WorkerRuntime().run_job(job_id)  # not started: no heartbeat thread or signals


def notes_outside(piece: Piece, start_bar: int, end_bar: int) -> list[tuple]:
    b0, b1 = (start_bar - 1) * piece.bar_beats, end_bar * piece.bar_beats
    return sorted((i, round(n.onset, 3), n.pitch, round(n.duration, 3))
                  for i, p in enumerate(piece.parts) for n in p.notes
                  if not b0 - 1e-6 <= n.onset < b1 - 1e-6)


def read(settings, track: Track) -> Piece:
    return piece_from_midi(Path(settings.MEDIA_ROOT) / track.files["midi"])


def submit(client, **body):
    return client.post("/api/jobs/", body, content_type="application/json")


def test_a_remix_of_a_public_track_belongs_to_the_remixer_names_its_source_and_keeps_history(
    owner, stranger, make_track, rendered_tune, settings
):
    settings.STUDIO_DEVICE = "cpu"
    source = make_track(owner, visibility="public", title="Hill song",
                        rendered_with=rendered_tune)
    remixer = api(stranger)
    response = submit(remixer, kind="infill", track=source.id, start_bar=5, end_bar=8, seed=3)
    assert response.status_code == 202, response.content
    job = Job.objects.get(id=response.json()["id"])
    assert job.owner == stranger and job.kind == "infill"
    assert job.parameters["source"] == {"id": source.id, "title": "Hill song", "owner": "owner"}
    assert run_in_this_process(job.id) == "done", Job.objects.get(id=job.id).error

    remix = Track.objects.get(job=job)
    assert remix.owner == stranger and remix.visibility == "private"
    assert remix.parent == source and remix.change == "bars 5-8 rewritten"
    before, after = read(settings, source), read(settings, remix)
    assert notes_outside(after, 5, 8) == notes_outside(before, 5, 8)  # note for note
    assert notes_outside(after, 1, 8) == []  # nothing past the piece's end
    assert after.parts[0].notes != before.parts[0].notes  # bars 5-8 were rewritten
    assert (Path(settings.MEDIA_ROOT) / remix.files["original_audio"]).stat().st_size > 1000
    layout = remix.attributes["layout"]
    assert layout["bars"] == 8 and layout["voices"] == 1 and layout["bar_seconds"] == 2.0
    assert 0 < layout["roll_x0"] < layout["roll_x1"] < 1

    data = remixer.get(f"/api/tracks/{remix.id}/").json()
    assert data["parent"] == source.id and data["change"] == "bars 5-8 rewritten"
    assert data["source"] == {"title": "Hill song", "owner": "owner"}

    # harmonize the remix: the melody stays, voices appear under it
    response = submit(remixer, kind="harmonize", track=remix.id, style="german_folk", seed=4)
    assert response.status_code == 202, response.content
    job = Job.objects.get(id=response.json()["id"])
    assert run_in_this_process(job.id) == "done", Job.objects.get(id=job.id).error
    harmonized = Track.objects.get(job=job)
    assert harmonized.parent == remix and harmonized.change == "harmonized"
    result = read(settings, harmonized)
    assert len(result.parts) == 2 and result.parts[1].name == "Accompaniment"
    assert [(n.onset, n.pitch) for n in result.parts[0].notes] == [
        (n.onset, n.pitch) for n in after.parts[0].notes]
    assert all(n.pitch < 67 + 12 for n in result.parts[1].notes)

    history = selectors.track_history(harmonized, user=stranger)
    assert [(h["change"], h["track"]) for h in history] == [
        ("", source), ("bars 5-8 rewritten", remix), ("harmonized", harmonized)]
    # once the source goes private, its name stays but the link goes
    Track.objects.filter(id=source.id).update(visibility="private")
    history = selectors.track_history(harmonized, user=stranger)
    assert history[0]["track"] is None and history[0]["title"] == "Hill song"
    assert remixer.get(f"/api/tracks/{remix.id}/").json()["parent"] is None


def test_strangers_cannot_repair_private_or_unlisted_tracks(owner, stranger, make_track):
    private = make_track(owner, visibility="private")
    unlisted = make_track(owner, visibility="unlisted")
    other = api(stranger)
    for track in (private, unlisted):
        for kind in ("infill", "harmonize"):
            response = submit(other, kind=kind, track=track.id, start_bar=1, end_bar=2)
            assert response.status_code == 404, (kind, track.visibility)
            assert response.json() == {"error": "Not found."}
    assert submit(Client(), kind="infill", track=private.id).status_code in (401, 403)
    assert Job.objects.filter(owner=stranger).count() == 0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"start_bar": 3, "end_bar": 9}, "end_bar must be between 1 and 4"),
        ({"start_bar": 3, "end_bar": 2}, "An empty selection: bar 2 comes before bar 3"),
        ({"end_bar": 2}, "start_bar is missing"),
        ({"start_bar": 1, "end_bar": 2, "voices": "2,x"}, "voices must be a list"),
        ({"start_bar": 1, "end_bar": 2, "voices": [0]}, "voices must be between 1 and 16"),
        ({"kind": "continue", "start_bar": 1}, "Only infill and harmonize are made from a track"),
        ({"kind": "harmonize", "style": "jazz"}, "style must be one of"),
        ({"track": "abc", "start_bar": 1, "end_bar": 1}, "track must be a track id"),
    ],
)
def test_bad_repair_requests_answer_400_and_queue_nothing(owner, make_track, body, fragment):
    track = make_track(owner)  # 4 bars
    response = submit(api(owner), **{"kind": "infill", "track": track.id, **body})
    assert response.status_code == 400, response.content
    assert fragment in response.json()["error"]
    assert Job.objects.count() == 1  # make_track's own


def test_harmonize_takes_an_uploaded_melody_and_infill_names_the_voices_it_rewrites(owner):
    client = api(owner)
    melody = piece_to_midi_bytes(folk_tune())
    response = client.post("/api/jobs/", {"kind": "harmonize", "midi": io.BytesIO(melody)})
    assert response.status_code == 202, response.content
    job = Job.objects.get(id=response.json()["id"])
    assert job.parameters["change"] == "harmonized" and "source" not in job.parameters
    assert job.parameters["style"] == "chorale" and job.input_file
    response = client.post("/api/jobs/", {"kind": "infill", "midi": io.BytesIO(melody),
                                          "start_bar": "2", "end_bar": "2", "voices": "3,2"})
    assert response.status_code == 202, response.content
    job = Job.objects.get(id=response.json()["id"])
    assert job.parameters["voices"] == [2, 3]
    assert job.parameters["change"] == "bar 2 rewritten (voices 2, 3)"


def test_a_track_the_model_cannot_repair_fails_its_job_with_a_readable_message(
    owner, make_track, settings
):
    settings.STUDIO_DEVICE = "cpu"
    two_parts = make_track(owner)  # a melody over a bass: the model writes 1 or 4 voices
    job = services.submit_track_job(user=owner, kind="infill", track_id=two_parts.id,
                                    params={"start_bar": 1, "end_bar": 2})
    assert run_in_this_process(job.id) == "failed"
    job.refresh_from_db()
    assert job.error.startswith("The model cannot do this:")
    assert "this piece has 2" in job.error
    assert not Track.objects.filter(job=job).exists()
