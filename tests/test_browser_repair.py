"""Repair on the track page in a real headless Chromium (issue 15): a musician selects bars
5-8 of a four-voice track by keyboard and by dragging over the piano roll, rewrites them with
the committed v2 model (the job runs in this process, as a worker would run it; the page
follows it by polling, live_server has no websocket), lands on the new track with the
rewritten bars marked, and compares the two versions from bar 5. On a phone the bars are
chosen by tapping the first and the last in the score.

Screenshots: test-artifacts/repair-*.png (copies kept in docs/screenshots/).
"""
# ruff: noqa: F811 - the fixtures imported from tests.studio_fixtures are test arguments

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import log_in, screenshot
from tests.studio_fixtures import make_track, rendered_variant  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BARS = 8
BPM = 120.0  # 2 s a bar: bar 5 starts at 8 s


def chorale_piece():
    """Eight bars of a four-voice texture, each voice in its own rhythm."""
    from generation.music.notes import Note, Part, Piece

    def line(pitches, lengths):
        notes, beat, i = [], 0.0, 0
        while beat < 4 * BARS:
            length = min(lengths[i % len(lengths)], 4 * BARS - beat)
            notes.append(Note(beat, pitches[i % len(pitches)], length, 80))
            beat += length
            i += 1
        return notes

    voices = [
        line([72, 74, 76, 74, 72, 71], [1.0, 1.0, 2.0]),
        line([67, 65, 64, 65], [1.0, 1.0, 2.0]),
        line([60, 59, 57, 59, 60], [2.0, 1.0, 1.0]),
        line([48, 43, 45, 41], [4.0, 2.0, 2.0]),
    ]
    return Piece(parts=[Part(notes=v, program=19) for v in voices], tempos=[(0.0, BPM)],
                 time_signatures=[(0.0, 4, 4)], key="C major", title="Evening chorale")


@pytest.fixture(scope="module")
def chorale_variant(tmp_path_factory):
    from generation.pipeline import render_variant

    folder = tmp_path_factory.mktemp("chorale") / "variant"
    rendered = render_variant(chorale_piece(), folder, boundary_beat=None, timings={})
    return folder, rendered


def _record_layout(track, variant) -> None:
    """What the worker records beside a track it makes (pipeline.run_pipeline): where the
    bars are and where the piano roll's time axis lies."""
    from generation.models import Track
    from generation.pipeline import layout_of

    layout = {**layout_of(chorale_piece()), **variant[1]["roll"]}
    Track.objects.filter(id=track.id).update(attributes={"layout": layout})


def _wait_until(page, expression: str, timeout_s: float = 20) -> None:
    """Poll with page.evaluate (wait_for_function uses eval, which the CSP forbids)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {expression}")




def _open(page, url: str) -> None:
    page.goto(url)
    page.locator("#score .score-page svg").first.wait_for(state="visible", timeout=30_000)
    _wait_until(page, "document.getElementById('repair-tools').dataset.ready === '1'")


MARKED = """cls => Array.from(document.querySelectorAll('#score g.measure'))
  .map((m, i) => m.classList.contains(cls) ? i + 1 : 0).filter(Boolean)"""


def _drag_over_roll(page, first: int, last: int) -> None:
    """Press in the middle of bar ``first`` of the piano roll and release in bar ``last``."""
    tools = page.locator("#repair-tools")
    x0, x1 = float(tools.get_attribute("data-roll-x0")), float(tools.get_attribute("data-roll-x1"))
    end = float(tools.get_attribute("data-end-beat"))
    box = page.locator("#roll-wrap").bounding_box()

    def x_of(bar: int) -> float:
        beat = (bar - 0.5) * 4.0
        return box["x"] + box["width"] * (x0 + (x1 - x0) * beat / end)

    y = box["y"] + box["height"] / 2
    page.locator("#roll-wrap").scroll_into_view_if_needed()
    box = page.locator("#roll-wrap").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(x_of(first), y)
    page.mouse.down()
    for bar in range(first, last + 1):
        page.mouse.move(x_of(bar), y, steps=3)
    page.mouse.up()


def test_bars_5_to_8_are_selected_rewritten_and_compared_with_the_original(
    live_server, page, make_user, make_track, chorale_variant, settings
):
    from generation.consumers import WorkerRuntime
    from generation.models import Job, Track
    from generation.music.notes import piece_from_midi

    settings.STUDIO_DEVICE = "cpu"
    owner = make_user("hana")
    source = make_track(owner, title="Evening chorale", rendered_with=chorale_variant)
    _record_layout(source, chorale_variant)
    log_in(page, live_server.url, "hana")
    _open(page, f"{live_server.url}/tracks/{source.id}/")
    assert page.evaluate("document.querySelectorAll('#score g.measure').length") == BARS

    # by keyboard: the bar range field
    page.get_by_label("From bar").fill("2")
    page.get_by_label("to bar").fill("3")
    assert page.locator("#selection-label").inner_text() == "Bars 2–3 selected"
    assert page.evaluate(MARKED, "bar-selected") == [2, 3]
    # by dragging over the piano roll
    _drag_over_roll(page, 5, 8)
    assert page.get_by_label("From bar").input_value() == "5"
    assert page.get_by_label("to bar").input_value() == "8"
    assert page.locator("#selection-label").inner_text() == "Bars 5–8 selected"
    assert page.evaluate(MARKED, "bar-selected") == [5, 6, 7, 8]
    assert page.locator(".roll-selection").is_visible()
    assert page.locator("input[name=voices]:checked").count() == 4
    screenshot(page, "repair-selection-desktop")

    page.get_by_role("button", name="Rewrite these bars").click()
    page.wait_for_url(re.compile(r".*/jobs/\d+/$"), timeout=15_000)
    job = Job.objects.get(owner=owner, kind="infill")
    assert (job.parameters["start_bar"], job.parameters["end_bar"]) == (5, 8)
    assert job.parameters["voices"] == []  # every voice
    assert WorkerRuntime().run_job(job.id) == "done", Job.objects.get(id=job.id).error
    new = Track.objects.get(job=job)
    page.wait_for_url(f"{live_server.url}/tracks/{new.id}/", timeout=30_000)
    _wait_until(page, "document.getElementById('repair-tools').dataset.ready === '1'")
    page.locator("#score .score-page svg").first.wait_for(state="visible", timeout=30_000)

    # the new track: its history, the rewritten bars marked in the roll and the score
    history = page.locator("#history li")
    assert history.count() == 2
    assert "Evening chorale" in history.nth(0).inner_text()
    assert history.nth(1).inner_text().strip() == "bars 5-8 rewritten"
    assert page.locator(".roll-rewritten").is_visible()
    _wait_until(page, "document.querySelectorAll('#score g.measure.bar-rewritten').length === 4")
    assert page.evaluate(MARKED, "bar-rewritten") == [5, 6, 7, 8]
    before = piece_from_midi(chorale_variant[0] / "track.mid")
    after = piece_from_midi(Path(settings.MEDIA_ROOT) / new.files["midi"])
    assert [p.notes for p in after.parts] != [p.notes for p in before.parts]

    # compare: the new version from bar 5, then the original takes over from the same bar
    page.get_by_role("button", name="Play from bar 5").click()
    _wait_until(page, "document.getElementById('compare').dataset.playing === 'new'")
    _wait_until(page, "!document.getElementById('track-audio').paused")
    start = page.evaluate("document.getElementById('track-audio').currentTime")
    assert 8.0 <= start < 10.0
    page.locator("#version-original").check()
    _wait_until(page, "document.getElementById('compare').dataset.playing === 'original'")
    _wait_until(page, "!document.getElementById('original-audio').paused")
    assert page.evaluate("document.getElementById('track-audio').paused")
    at = page.evaluate("document.getElementById('original-audio').currentTime")
    assert 8.0 <= at < 10.0  # the start of the bar the new version was in
    assert "Original from bar 5" in page.locator("#compare-status").inner_text()
    page.evaluate("document.getElementById('original-audio').pause()")
    screenshot(page, "repair-compare-desktop")
    page.set_viewport_size({"width": 390, "height": 844})  # the same page on a phone
    _wait_until(page, "document.getElementById('score').dataset.layout === 'narrow'")
    _wait_until(page, "document.querySelectorAll('#score g.measure.bar-rewritten').length === 4")
    screenshot(page, "repair-compare-phone")
    assert [e for e in page.console_errors if "WebSocket" not in e] == []


def test_on_a_phone_bars_are_chosen_by_tapping_the_score(
    live_server, playwright_browser, make_user, make_track, chorale_variant
):
    owner = make_user("ilse")
    source = make_track(owner, title="Evening chorale", rendered_with=chorale_variant)
    context = playwright_browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        log_in(page, live_server.url, "ilse")
        _open(page, f"{live_server.url}/tracks/{source.id}/")
        assert page.locator("#score").get_attribute("data-layout") == "narrow"
        measures = page.locator("#score g.measure")
        for bar in (5, 8):  # tap the first bar, then the last, turning the page between
            if not measures.nth(bar - 1).locator("g.note:visible").count():
                page.get_by_role("button", name="Next page").click()
            # bar 5 on a notehead; bar 8 in the middle of its box, the paper between the
            # staves, which is no bar's ink but still that bar
            target = measures.nth(bar - 1)
            if bar == 5:
                target = target.locator("g.note:visible g.notehead").first
            target.scroll_into_view_if_needed()
            box = target.bounding_box()
            page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert page.get_by_label("From bar").input_value() == "5"
        assert page.get_by_label("to bar").input_value() == "8"
        assert page.evaluate(MARKED, "bar-selected") == [5, 6, 7, 8]
        page.locator("#repair").scroll_into_view_if_needed()
        screenshot(page, "repair-selection-phone")
        assert errors == []
    finally:
        context.close()
