"""The studio as a new user meets it, in a real headless Chromium (Playwright).

End-to-end tests run daphne (HTTP + websockets) and a real ``runworker generation`` process
(``tests.studio_fixtures.studio_server``); the worker runs the real pipeline and rendering
with the jobs tests' small composer (``tests/jobs_engine.py``) in place of a trained
checkpoint. Page-only tests use pytest-django's ``live_server`` with tracks rendered through
the worker's own rendering function.

Every page visited must leave the browser console free of errors and CSP violations.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, log_in, screenshot
from tests.studio_fixtures import tiny_piece

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JOB_SECONDS = 120  # a 4-bar job on 2 busy cores: render + audio take a few seconds


def _sign_up(page, base: str, name: str) -> None:
    page.goto(base + "/accounts/signup/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Email").fill(f"{name}@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    # a new account lands on Compose with an example mood filled in
    page.wait_for_url(re.compile(r".*/compose/\?mood=.+"))




def _wait_until(page, expression: str, timeout_s: float = 15) -> None:
    """Poll ``expression`` with page.evaluate (wait_for_function evaluates strings with eval,
    which the page's CSP rightly forbids)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {expression}")


def _play_and_watch(page, *, want_highlight: bool = True) -> tuple[float, list[str]]:
    """Press play (after a real click, which gives the page user activation) and watch the
    audio clock and the highlighted notes. Returns (audio time, distinct highlighted ids)."""
    page.get_by_role("heading", level=1).click()
    if want_highlight:
        _wait_until(page, "document.getElementById('player').dataset.followReady === '1'", 20)
    page.locator("#track-audio").evaluate("a => a.play()")
    seen: list[str] = []
    for _ in range(40):
        page.wait_for_timeout(150)
        ids = page.evaluate(
            "Array.from(document.querySelectorAll('#score .playing')).map(e => e.id).join(',')"
        )
        if ids and (not seen or seen[-1] != ids):
            seen.append(ids)
        if len(seen) >= 3:
            break
    time = page.locator("#track-audio").evaluate("a => a.currentTime")
    page.locator("#track-audio").evaluate("a => a.pause()")
    return time, seen


def _no_console_errors(page, allow: tuple[str, ...] = ()) -> None:
    errors = [e for e in page.console_errors if not any(a in e for a in allow)]
    assert errors == [], errors


@pytest.mark.integration
@pytest.mark.slow
def test_a_new_user_goes_from_a_mood_to_a_shared_playing_score(
    studio_server, page, playwright_browser, tmp_path
):
    base = studio_server.url
    _sign_up(page, base, "clara")
    page.get_by_role("link", name="Compose").first.click()
    page.wait_for_url(base + "/compose/")
    page.get_by_label("Mood", exact=True).fill("calm sea at dawn, peaceful")
    reading = page.locator("#mood-reading")
    reading.wait_for(state="visible", timeout=10_000)
    assert "Mode" in page.locator("#mood-chips").inner_text()
    assert "Tempo" in page.locator("#mood-chips").inner_text()
    # the reading fills the attribute fields, which stay changeable
    assert page.get_by_label("Mode").input_value() in ("major", "minor")
    page.get_by_label("Mode").select_option("minor")
    page.get_by_label("Length in bars").fill("4")
    page.get_by_label("Random seed").fill("11")
    sockets: list[dict] = []

    def on_socket(ws) -> None:
        record = {"url": ws.url, "frames": []}
        sockets.append(record)
        ws.on("framereceived", lambda payload: record["frames"].append(payload))

    page.on("websocket", on_socket)
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url(re.compile(r".*/jobs/\d+/$"))
    assert page.locator("#job-progress").is_visible()
    try:
        page.wait_for_url(re.compile(r".*/tracks/\d+/$"), timeout=JOB_SECONDS * 1000)
    except Exception:
        pytest.fail("the job did not finish:\n" + studio_server.logs())
    track_url = page.url
    # progress came over the job's websocket (daphne), not only by polling
    job_sockets = [w for w in sockets if re.search(r"/ws/jobs/\d+/$", w["url"])]
    assert job_sockets, sockets
    assert any('"status"' in str(f) for f in job_sockets[0]["frames"])

    page.locator("#score .score-page svg").first.wait_for(state="visible", timeout=20_000)
    assert page.locator("#score .score-page").count() >= 1
    assert "minor" in page.locator(".facts").first.inner_text().lower()
    audio_time, highlighted = _play_and_watch(page)
    assert audio_time > 0.3, "the audio clock did not advance"
    assert len(highlighted) >= 2, f"the highlight did not move: {highlighted}"

    with page.expect_download() as info:
        page.get_by_role("link", name="MIDI", exact=True).click()
    midi_path = Path(info.value.path())
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(midi_path))
    assert sum(len(i.notes) for i in midi.instruments) > 4

    page.get_by_label("Unlisted (anyone with the link)").check()
    page.get_by_role("button", name="Save visibility").click()
    page.wait_for_url(track_url + "#sharing")
    share_link = page.get_by_label("Share link").input_value()
    assert re.search(r"/s/[\w-]+/$", share_link)
    screenshot(page, "track-desktop")
    _no_console_errors(page)

    visitor_context = playwright_browser.new_context(viewport={"width": 390, "height": 844})
    visitor = visitor_context.new_page()
    visitor.console_errors = []
    visitor.on(
        "console", lambda m: visitor.console_errors.append(m.text) if m.type == "error" else None
    )
    response = visitor.goto(share_link)
    assert response.status == 200
    assert visitor.get_by_role("link", name="Log in").first.count() == 1  # logged out
    visitor.locator("#score .score-page svg").first.wait_for(state="visible", timeout=20_000)
    time_shared, _ = _play_and_watch(visitor)
    assert time_shared > 0.3
    _no_console_errors(visitor)
    screenshot(visitor, "track-shared-phone")

    page.get_by_label("Private").check()
    page.get_by_role("button", name="Save visibility").click()
    page.wait_for_load_state()
    gone = visitor.goto(share_link)
    assert gone.status == 404
    visitor_context.close()
    _no_console_errors(page)


@pytest.mark.integration
@pytest.mark.slow
def test_a_seed_midi_is_uploaded_summarised_and_continued(studio_server, page, tmp_path):
    from generation.music.notes import piece_to_midi_bytes

    seed = tmp_path / "seed.mid"
    seed.write_bytes(piece_to_midi_bytes(tiny_piece()))
    base = studio_server.url
    _sign_up(page, base, "marco")
    page.goto(base + "/compose/")
    page.get_by_text("Continue my MIDI").click()
    assert page.get_by_label("Mood", exact=True).is_hidden()
    page.get_by_label("MIDI file").set_input_files(str(seed))
    summary = page.locator("#midi-summary")
    summary.wait_for(state="visible", timeout=15_000)
    text = summary.inner_text()
    assert "4/4" in text and "C major" in text and "4 bars" in text
    page.get_by_label("Length in bars").fill("2")
    page.get_by_role("button", name="Generate").click()
    try:
        page.wait_for_url(re.compile(r".*/tracks/\d+/$"), timeout=JOB_SECONDS * 1000)
    except Exception:
        pytest.fail("the continuation did not finish:\n" + studio_server.logs())
    assert "Continue a MIDI seed" in page.locator(".facts").first.inner_text()
    page.locator("#score .score-page svg").first.wait_for(state="visible", timeout=20_000)
    _no_console_errors(page)


def test_a_malformed_upload_shows_the_message_next_to_the_field(
    live_server, page, tmp_path, make_user
):
    make_user("nina")
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"this is plainly not a MIDI file")
    log_in(page, live_server.url, "nina")
    page.goto(live_server.url + "/compose/")
    page.get_by_label("Continue my MIDI").check()
    page.get_by_label("MIDI file").set_input_files(str(bad))
    problem = page.locator("#midi-problem")
    problem.wait_for(state="visible", timeout=15_000)
    assert problem.inner_text() == "This is not a MIDI file."
    screenshot(page, "compose-upload-error-desktop")
    # the refused file is taken out of the form, so it is never uploaded: Generate then asks
    # for a file (the server's own answer to a malformed upload is in test_pages_compose)
    assert page.get_by_label("MIDI file").evaluate("el => el.files.length") == 0
    page.get_by_role("button", name="Generate").click()
    page.wait_for_load_state()
    assert page.locator("#id_midi_error").inner_text() == "Choose a MIDI file to start from."
    from generation.models import Job

    assert not Job.objects.exists()
    # the 400 from the inspect call is an expected network error, nothing else
    _no_console_errors(page, allow=("status of 400",))


def test_an_owner_deletes_a_track(live_server, page, make_user, make_track):
    owner = make_user("olga")
    track = make_track(owner, title="To be deleted")
    log_in(page, live_server.url, "olga")
    page.goto(f"{live_server.url}/tracks/{track.id}/")
    page.get_by_role("link", name="Delete this track").click()
    page.get_by_role("button", name="Delete for good").click()
    page.wait_for_url(live_server.url + "/tracks/")
    assert page.get_by_text("“To be deleted” was deleted.").is_visible()
    assert page.get_by_text("You have no tracks yet.").is_visible()
    response = page.goto(f"{live_server.url}/tracks/{track.id}/")
    assert response.status == 404


def test_staff_hide_a_reported_track_and_can_still_hear_and_see_it(
    live_server, page, make_user, make_track
):
    """The moderation page lists the open report; after hiding, the track's own page still
    opens for staff with its score and audio (the files follow the same rule as the page)."""
    from studio.models import Report

    owner = make_user("olga")
    reporter = make_user("rita")
    track = make_track(owner, title="Noisy thing", visibility="public")
    Report.objects.create(track=track, reporter=reporter, reason="just noise")
    staff = make_user("mod")
    staff.is_staff = True
    staff.save()
    log_in(page, live_server.url, "mod")
    page.goto(live_server.url + "/moderation/")
    assert page.get_by_text("“just noise”").is_visible()
    screenshot(page, "moderation-desktop")
    page.get_by_role("button", name="Hide “Noisy thing”").click()
    page.get_by_role("link", name="Noisy thing").click()
    page.locator("#score .score-page svg").first.wait_for(state="visible", timeout=20_000)
    audio = page.locator("audio").first.get_attribute("src")
    assert page.request.get(live_server.url + audio).status == 200
    screenshot(page, "track-hidden-staff-desktop")
    _no_console_errors(page)


def test_a_second_user_rates_a_public_track_and_edits_the_rating(
    live_server, page, make_user, make_track
):
    owner = make_user("olga")
    make_user("paul")
    track = make_track(owner, title="Harbour lights", visibility="public")
    log_in(page, live_server.url, "paul")
    page.goto(live_server.url + "/gallery/")
    page.get_by_role("link", name="Harbour lights", exact=True).click()
    page.wait_for_url(f"{live_server.url}/tracks/{track.id}/")
    overall = page.get_by_role("group", name="Overall musical quality")
    overall.get_by_label("4").check()
    page.get_by_role("group", name="Match to the requested mood").get_by_label("3").check()
    page.get_by_role("group", name="Fit to the requested style").get_by_label("5").check()
    page.get_by_label("Comment").fill("Nice cadence")
    page.get_by_role("button", name="Save rating").click()
    page.wait_for_url(re.compile(r".*#rating-section$"))
    assert page.get_by_text("Thank you for rating.").is_visible()
    assert page.get_by_role("group", name="Overall musical quality").get_by_label("4").is_checked()
    page.get_by_role("group", name="Overall musical quality").get_by_label("2").check()
    page.get_by_role("button", name="Update rating").click()
    page.wait_for_url(re.compile(r".*#rating-section$"))
    assert page.get_by_text("Your rating was updated.").is_visible()
    from studio.models import Rating

    rating = Rating.objects.get()
    assert rating.overall == 2 and rating.comment == "Nice cadence"
    assert not rating.listener_owns_track
    _no_console_errors(page)


def test_the_progress_page_falls_back_to_polling_and_goes_to_the_track(
    live_server, page, make_user, make_track
):
    """live_server speaks no websocket: the page must poll /api/jobs/<id>/ instead."""
    from generation.models import Job, Track

    owner = make_user("rita")
    done = make_track(owner, title="Finished piece")
    job = Job.objects.create(
        owner=owner,
        kind="compose",
        parameters={"mood": "bright"},
        status=Job.Status.RUNNING,
        progress=45,
        stage="writing the score and audio (1 of 1)",
    )
    log_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/jobs/{job.id}/")
    assert page.locator("#job-progress").get_attribute("value") == "45"
    screenshot(page, "progress-desktop")
    Job.objects.filter(id=job.id).update(progress=80, stage="saving")
    _wait_until(page, "document.getElementById('job-percent').textContent === '80'", 15)
    assert page.locator("#job-stage").inner_text() == "Saving"
    Track.objects.filter(id=done.id).update(job=job)
    Job.objects.filter(id=job.id).update(status=Job.Status.DONE, progress=100)
    page.wait_for_url(f"{live_server.url}/tracks/{done.id}/", timeout=15_000)
    _no_console_errors(page, allow=("WebSocket",))


def test_a_failed_job_shows_its_message_and_a_way_to_try_again(live_server, page, make_user):
    from generation.models import Job

    owner = make_user("sven")
    job = Job.objects.create(
        owner=owner,
        kind="compose",
        status=Job.Status.RUNNING,
        parameters={"kind": "compose", "mood": "bright day"},
    )
    log_in(page, live_server.url, "sven")
    page.goto(f"{live_server.url}/jobs/{job.id}/")
    Job.objects.filter(id=job.id).update(
        status=Job.Status.FAILED, error="The generator ran out of memory."
    )
    alert = page.get_by_role("alert")
    alert.wait_for(state="visible", timeout=15_000)
    assert "The generator ran out of memory." in alert.inner_text()
    page.get_by_role("link", name="Try again").click()
    page.wait_for_url(re.compile(r".*/compose/\?job=\d+$"))
    assert page.get_by_label("Mood", exact=True).input_value() == "bright day"
    _no_console_errors(page, allow=("WebSocket",))


def test_the_page_turns_with_the_music_and_the_player_works_by_keyboard(
    live_server, page, make_user, make_track, long_rendered_variant
):
    owner = make_user("uma")
    track = make_track(
        owner, title="Long song", visibility="public", rendered_with=long_rendered_variant
    )
    page.goto(f"{live_server.url}/tracks/{track.id}/")
    page.locator("#score .score-page svg").first.wait_for(state="visible", timeout=20_000)
    _wait_until(page, "document.getElementById('player').dataset.followReady === '1'", 20)
    label = page.locator("#page-label")
    assert label.inner_text() == "Page 1 of 2"
    # keyboard only: Tab reaches the audio player, and Space plays it
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "track-audio":
            break
    assert page.evaluate("document.activeElement.id") == "track-audio"
    page.keyboard.press("Space")
    _wait_until(page, "document.getElementById('track-audio').currentTime > 0.3", 10)
    # late in the piece the highlighted notes are on page two, and the page has turned
    page.locator("#track-audio").evaluate("a => { a.currentTime = 80; }")
    _wait_until(page, "document.getElementById('page-label').textContent === 'Page 2 of 2'", 10)
    assert page.locator(".score-page[data-layout='wide'][data-page='2'] .playing").count() >= 1
    assert page.locator(".score-page[data-layout='wide'][data-page='1']").is_hidden()
    page.keyboard.press("Space")  # focus is still on the player: pause
    _wait_until(page, "document.getElementById('track-audio').paused", 5)
    page.locator("#page-prev").focus()
    page.keyboard.press("Enter")
    assert label.inner_text() == "Page 1 of 2"
    assert page.locator(".score-page[data-layout='wide'][data-page='1']").is_visible()
    _no_console_errors(page)


@pytest.mark.parametrize(("width", "suffix"), [(1280, "desktop"), (390, "phone")])
def test_screenshots_of_the_studio_pages(
    live_server, playwright_browser, make_user, make_track, width, suffix
):
    """Screenshots for people to check; each page must fit the width without sideways
    scrolling, and the keyboard focus must be visible."""
    from generation.models import Job

    owner = make_user("vera")
    for i, title in enumerate(("Harbour lights", "Rain on the roof", "Morning chorale")):
        make_track(owner, title=title, visibility="public" if i != 1 else "unlisted")
    track = make_track(owner, title="Stormy night at sea", visibility="public")
    job = Job.objects.create(
        owner=owner,
        kind="compose",
        parameters={"mood": "stormy night"},
        status=Job.Status.RUNNING,
        progress=62,
        stage="writing the score and audio (1 of 1)",
    )
    context = playwright_browser.new_context(
        viewport={"width": width, "height": 900}, is_mobile=width < 500
    )
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    log_in(page, live_server.url, "vera")
    pages = {
        "compose": "/compose/",
        "progress": f"/jobs/{job.id}/",
        "track": f"/tracks/{track.id}/",
        "gallery": "/gallery/",
        "my-tracks": "/tracks/",
    }
    for name, path in pages.items():
        page.goto(live_server.url + path)
        if name == "compose":
            page.get_by_label("Mood", exact=True).fill("stormy night at sea, restless")
            page.locator("#mood-reading").wait_for(state="visible", timeout=10_000)
        if name == "track":
            page.locator("#score .score-page svg").first.wait_for(state="visible", timeout=20_000)
        width_now = page.evaluate("document.documentElement.scrollWidth")
        assert width_now <= width, f"{name} scrolls sideways at {width}px ({width_now})"
        screenshot(page, f"{name}-{suffix}")
    # keyboard only: tab to the first control of the page, its focus ring shows
    page.goto(live_server.url + f"/tracks/{track.id}/")
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    context.close()
    _no_console_errors(page, allow=("WebSocket",))
