"""The track page, sharing and permissions: who sees which track, by id and by link."""
from __future__ import annotations

import pytest
from django.urls import reverse

from generation.models import Track

pytestmark = pytest.mark.django_db


def _files(client, track, token=None):
    """Fetch every file of a track the way its page links them (each kind it has, each page
    of the score); return {url: status code}."""
    from generation.files import file_urls

    urls = file_urls(track, token)
    pages = urls.pop("svg_pages") + urls.pop("svg_phone_pages")
    assert {"midi", "musicxml", "svg", "timemap", "audio", "pianoroll"} <= set(urls)
    return {url: client.get(url).status_code for url in [*urls.values(), *pages]}


def test_the_owner_sees_a_private_track_with_score_audio_and_downloads(client, owner, make_track):
    track = make_track(owner)
    client.force_login(owner)
    response = client.get(reverse("studio:track", args=[track.id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<audio id="track-audio" controls' in html
    assert 'data-svg-url="/api/tracks/' in html
    assert f'data-timemap-url="/api/tracks/{track.id}/files/timemap"' in html
    for label in (">MIDI<", ">MusicXML<", ">Audio (MP3)<"):
        assert label in html
    assert "Seed" in html and "test-model-1" in html
    assert "calm morning by the sea" in html  # the mood
    assert "Interpreted mood" in html
    assert "Regenerate with the same settings" in html
    assert set(_files(client, track).values()) == {200}


def test_the_track_page_offers_the_score_laid_out_for_a_phone_too(client, owner, make_track):
    track = make_track(owner)
    phone_pages = track.files["svg_phone"]
    assert phone_pages
    client.force_login(owner)
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert html.count('data-layout="narrow"') == len(phone_pages)
    assert html.count('data-layout="wide"') == len(track.files["svg"])
    url = reverse("generation:api-track-file", args=[track.id, "svg_phone"])
    response = client.get(url + f"?page={len(phone_pages)}")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(response.streaming_content)


def test_a_stranger_gets_404_for_private_and_unlisted_tracks_by_id(
    client, owner, stranger, make_track
):
    private = make_track(owner)
    unlisted = make_track(owner, visibility="unlisted")
    for c_user in (None, stranger):
        client.logout()
        if c_user:
            client.force_login(c_user)
        for track in (private, unlisted):
            assert client.get(reverse("studio:track", args=[track.id])).status_code == 404
            assert set(_files(client, track).values()) == {404}
            # reading is open to anyone (public tracks): a hidden track is simply not found
            assert client.get(reverse("generation:api-track", args=[track.id])).status_code == 404


@pytest.mark.parametrize("visibility", ["private", "unlisted"])
def test_strangers_get_none_of_a_transfer_tracks_files_by_id(
    client, owner, stranger, make_track, rendered_transfer_variant, visibility
):
    """Every kind: both score pages, the seed's original audio and piano roll too."""
    from generation.files import FILE_KINDS

    track = make_track(owner, visibility=visibility, kind="transfer",
                       rendered_with=rendered_transfer_variant)
    assert set(track.files) == set(FILE_KINDS) and len(track.files["svg"]) == 2
    client.force_login(owner)
    owned = _files(client, track)
    from generation.files import file_urls

    urls = file_urls(track)
    assert len(urls["svg_pages"]) == 2 and urls["svg_phone_pages"]
    expected = {*(u for k, u in urls.items() if k in FILE_KINDS), *urls["svg_pages"],
                *urls["svg_phone_pages"]}
    assert set(owned) == expected and set(owned.values()) == {200}
    api_url = reverse("generation:api-track", args=[track.id])
    for who in (None, stranger):
        client.logout()
        if who:
            client.force_login(who)
        assert client.get(reverse("studio:track", args=[track.id])).status_code == 404
        assert set(_files(client, track).values()) == {404}
        assert client.get(api_url).status_code == 404
        # changing it: a visitor must log in first (401); a stranger does not find it (404)
        expected = 404 if who else 401
        assert client.delete(api_url).status_code == expected
        assert client.patch(api_url, {"visibility": "public"},
                            content_type="application/json").status_code == expected
    track.refresh_from_db()
    assert track.visibility == visibility
    if visibility == "unlisted":  # the share link opens every kind, for anyone
        client.logout()
        assert set(_files(client, track, token=track.share_token).values()) == {200}


def test_an_unlisted_track_opens_by_its_share_link_for_anyone(client, owner, make_track):
    track = make_track(owner, visibility="unlisted")
    response = client.get(reverse("studio:shared", args=[track.share_token]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/api/shared/{track.share_token}/files/audio" in html
    assert "Regenerate" not in html and "Sharing" not in html  # not the owner's controls
    assert set(_files(client, track, token=track.share_token).values()) == {200}
    # an unguessable token: a wrong one leads nowhere
    assert client.get(reverse("studio:shared", args=["x" + track.share_token])).status_code == 404


def test_making_a_track_private_revokes_page_files_and_api_at_once(client, owner, make_track):
    track = make_track(owner, visibility="unlisted")
    token = track.share_token
    visitor = client.__class__()
    assert visitor.get(reverse("studio:shared", args=[token])).status_code == 200
    client.force_login(owner)
    response = client.post(
        reverse("studio:track-visibility", args=[track.id]), {"visibility": "private"}
    )
    assert response.status_code == 302
    assert Track.objects.get(id=track.id).visibility == "private"
    assert visitor.get(reverse("studio:shared", args=[token])).status_code == 404
    assert set(_files(visitor, track, token=token).values()) == {404}
    assert visitor.get(reverse("generation:api-shared", args=[token])).status_code == 404
    # the owner still has it
    assert client.get(reverse("studio:track", args=[track.id])).status_code == 200


def test_public_tracks_open_by_id_for_anyone_and_public_to_private_revokes(
    client, owner, make_track
):
    track = make_track(owner, visibility="public")
    visitor = client.__class__()
    assert visitor.get(reverse("studio:track", args=[track.id])).status_code == 200
    assert set(_files(visitor, track).values()) == {200}
    client.force_login(owner)
    client.post(reverse("studio:track-visibility", args=[track.id]), {"visibility": "private"})
    assert visitor.get(reverse("studio:track", args=[track.id])).status_code == 404
    assert set(_files(visitor, track).values()) == {404}
    assert visitor.get(reverse("generation:api-track", args=[track.id])).status_code == 404


def test_the_share_section_shows_a_link_with_a_copy_button_only_when_shareable(
    client, owner, make_track
):
    track = make_track(owner)
    client.force_login(owner)
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert 'id="copy-share"' not in html and "Only you can open" not in html
    assert "only you can open this track" in html
    client.post(reverse("studio:track-visibility", args=[track.id]), {"visibility": "unlisted"})
    track.refresh_from_db()  # becoming unlisted gave it a new link
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert 'id="copy-share"' in html
    assert f"http://testserver/s/{track.share_token}/" in html


def test_open_graph_tags_carry_title_and_the_piano_roll_image(client, owner, make_track):
    track = make_track(owner, visibility="unlisted", title="Sea at dawn")
    html = client.get(reverse("studio:shared", args=[track.share_token])).content.decode()
    assert '<meta property="og:title" content="Sea at dawn">' in html
    image = f'<meta property="og:image" content="http://testserver/api/shared/{track.share_token}/files/pianoroll">'
    assert image in html
    image_url = f"/api/shared/{track.share_token}/files/pianoroll"
    response = client.get(image_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_someone_else_cannot_change_visibility_or_delete(client, owner, stranger, make_track):
    track = make_track(owner, visibility="public")
    client.force_login(stranger)
    assert (
        client.post(
            reverse("studio:track-visibility", args=[track.id]), {"visibility": "private"}
        ).status_code
        == 404
    )
    assert client.post(reverse("studio:track-delete", args=[track.id])).status_code == 404
    assert client.post(reverse("studio:track-regenerate", args=[track.id])).status_code == 404
    assert Track.objects.get(id=track.id).visibility == "public"


def test_deleting_a_track_asks_first_then_removes_it_and_its_files(
    client, owner, make_track, settings, django_capture_on_commit_callbacks
):
    from pathlib import Path

    track = make_track(owner, visibility="unlisted")
    folder = Path(settings.MEDIA_ROOT) / track.media_dir
    assert folder.is_dir()
    client.force_login(owner)
    confirm = client.get(reverse("studio:track-delete", args=[track.id]))
    assert confirm.status_code == 200 and b"Delete for good" in confirm.content
    assert Track.objects.filter(id=track.id).exists()  # asking deletes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("studio:track-delete", args=[track.id]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("studio:my-tracks")
    assert not Track.objects.filter(id=track.id).exists()
    assert not folder.exists()
    assert client.get(reverse("studio:shared", args=[track.share_token])).status_code == 404


def test_my_tracks_lists_mine_and_the_status_of_running_jobs(client, owner, stranger, make_track):
    from generation.models import Job

    client.force_login(owner)
    html = client.get(reverse("studio:my-tracks")).content.decode()
    assert "You have no tracks yet." in html
    assert "Nothing is being made right now." in html
    make_track(owner, title="Mine one")
    make_track(stranger, title="Not mine", visibility="public")
    Job.objects.create(
        owner=owner,
        kind="compose",
        parameters={"mood": "rainy"},
        status=Job.Status.RUNNING,
        progress=40,
        stage="composing",
    )
    html = client.get(reverse("studio:my-tracks")).content.decode()
    assert "Mine one" in html and "Not mine" not in html
    assert "Running" in html and "Composing" in html and "40%" in html
    assert "You have no tracks yet." not in html


def test_my_tracks_and_compose_need_a_login(client):
    for name in ("studio:my-tracks", "studio:compose"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_transfer_track_shows_original_and_transferred_side_by_side(client, owner, make_track):
    track = make_track(
        owner,
        kind="transfer",
        parameters={
            "to_style": "celtic",
            "source_style": "chorale",
            "mood": "",
            "input_summary": {"bars": 8, "meter": "3/4", "key": "D minor", "notes": 40},
        },
    )
    client.force_login(owner)
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert "Original and transferred" in html
    assert "Guessed style: <strong>Chorale</strong>" in html
    assert "3/4" in html and "D minor" in html and "Celtic" in html


def test_a_hidden_public_track_is_gone_for_others_but_not_its_owner(
    client, owner, stranger, make_track
):
    track = make_track(owner, visibility="public")
    track.hidden = True
    track.save()
    client.force_login(stranger)
    assert client.get(reverse("studio:track", args=[track.id])).status_code == 404
    assert client.get(reverse("studio:shared", args=[track.share_token])).status_code == 404
    client.force_login(owner)
    response = client.get(reverse("studio:track", args=[track.id]))
    assert response.status_code == 200 and b"Hidden by the moderators" in response.content


def test_the_piano_roll_has_its_notes_as_a_table_behind_a_toggle(client, owner, make_track):
    import re

    from generation.files import track_file_bytes
    from generation.music.notes import piece_from_midi
    from generation.render.pianoroll_table import pianoroll_rows

    track = make_track(owner)
    piece = piece_from_midi(track_file_bytes(track, "midi"))
    client.force_login(owner)
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    table = html[html.index('<details class="roll-table">'):html.index("</details>",
                                                                  html.index("roll-table"))]
    assert "<summary>The notes as a table</summary>" in table
    body = table[table.index("<tbody>"):table.index("</tbody>")]
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]
    pitched = [n for p in piece.parts if not p.is_drum for n in p.notes]
    assert len(cells) == len(pitched) > 0  # one row per sounding note
    first = min(pitched, key=lambda n: (n.onset, -n.pitch))
    expected = pianoroll_rows(piece)[0][0]
    assert cells[0][-3:] == [expected.beat, expected.pitch, expected.length]
    assert expected.pitch[-1].isdigit() and first.onset == expected.onset
    bars = [int(row[-4]) for row in cells]
    assert bars == sorted(bars) and bars[0] == 1


def test_the_notes_table_counts_bars_and_beats_in_the_meter_of_the_piece():
    from generation.music.notes import Note, Part, Piece
    from generation.render.pianoroll_table import pianoroll_rows

    piece = Piece(parts=[Part(notes=[Note(0, 60, 1), Note(1.5, 62, 0.5), Note(3, 64, 1.5),
                                     Note(6.75, 67, 0.25)], name="Fiddle")],
                  time_signatures=[(0.0, 3, 4)])
    rows, left_out = pianoroll_rows(piece)
    assert [(r.bar, r.beat, r.pitch, r.length) for r in rows] == [
        (1, "1", "C4", "1"), (1, "2½", "D4", "½"), (2, "1", "E4", "1½"), (3, "1¾", "G4", "¼")]
    assert left_out == 0
    rows, left_out = pianoroll_rows(piece, limit=3)
    assert len(rows) == 3 and left_out == 1
