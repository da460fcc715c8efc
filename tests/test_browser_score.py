"""The engraved score in a real headless Chromium: a cursor that keeps time with the audio on
a four-voice track, and a score laid out for the screen it is read on.

Tracks are rendered through the worker's own rendering function
(``generation.pipeline.render_variant``) and served by pytest-django's ``live_server``.
"""
# ruff: noqa: F811 - the fixtures imported from tests.studio_fixtures are test arguments

from __future__ import annotations

import pytest

from tests.conftest import screenshot
from tests.studio_fixtures import make_track, rendered_variant  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BARS = 11  # 2 s bars: 25 %, 50 % and 90 % of the music fall inside bars 3, 6 and 10
BPM = 120.0


def four_voice_piece():
    """A four-part chorale texture in which each voice moves in its own rhythm (the kind of
    score whose voices the old writer numbered from 0, so verovio laid them end to end)."""
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
        line([67, 65, 64, 65], [0.5, 0.5, 1.0, 2.0]),
        line([60, 59, 57, 59, 60], [1.5, 0.5, 2.0]),
        line([48, 43, 45, 41], [4.0, 2.0, 2.0]),
    ]
    return Piece(parts=[Part(notes=v, program=19) for v in voices], tempos=[(0.0, BPM)],
                 time_signatures=[(0.0, 4, 4)], key="C major", title="Four voices")


@pytest.fixture(scope="module")
def four_voice_variant(tmp_path_factory):
    from generation.pipeline import render_variant

    folder = tmp_path_factory.mktemp("four-voices") / "variant"
    return folder, render_variant(four_voice_piece(), folder, boundary_beat=None, timings={})


def _wait_until(page, expression: str, timeout_s: float = 15) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {expression}")


# the bar (1-based, in score order) of the first highlighted note
PLAYING_BAR = """() => {
  const bars = Array.from(document.querySelectorAll('#score g.measure'));
  const lit = document.querySelector('#score .playing');
  const bar = lit && lit.closest('g.measure');
  return bar ? bars.indexOf(bar) + 1 : 0;
}"""


def _open_track(page, live_server, make_user, make_track, variant, name):
    owner = make_user(name)
    track = make_track(owner, title="Four voices", visibility="public", rendered_with=variant)
    page.goto(f"{live_server.url}/tracks/{track.id}/")
    page.locator("#score .score-page svg").first.wait_for(state="visible", timeout=20_000)
    _wait_until(page, "document.getElementById('player').dataset.followReady === '1'", 20)
    return track


@pytest.mark.parametrize("share", [0.25, 0.5, 0.9])
def test_on_a_four_voice_track_the_cursor_is_on_the_bar_the_audio_plays(
    live_server, page, make_user, make_track, four_voice_variant, share
):
    _open_track(page, live_server, make_user, make_track, four_voice_variant, "ines")
    assert page.evaluate("document.querySelectorAll('#score g.measure').length") == BARS
    seconds = share * BARS * 4 * 60 / BPM
    page.locator("#track-audio").evaluate(f"a => {{ a.currentTime = {seconds}; }}")
    expected = int(seconds * BPM / 60 // 4) + 1
    _wait_until(page, "!!document.querySelector('#score .playing')", 10)
    assert page.evaluate(PLAYING_BAR) == expected
    assert page.console_errors == []


@pytest.mark.parametrize(("width", "height"), [(390, 844), (844, 390)])
def test_on_a_phone_the_score_is_laid_out_for_the_screen(
    live_server, playwright_browser, make_user, make_track, four_voice_variant, width, height
):
    """Portrait (the phone layout) and landscape (wide enough for the desktop one): no system
    is wider than the screen, so nothing hides behind a sideways scroll."""
    context = playwright_browser.new_context(viewport={"width": width, "height": height},
                                             is_mobile=True)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    _open_track(page, live_server, make_user, make_track, four_voice_variant, f"phil{width}")
    layout = page.evaluate("document.getElementById('score').dataset.layout")
    assert layout == ("narrow" if width < 600 else "wide")
    rights = page.evaluate(
        "Array.from(document.querySelectorAll('#score .score-page:not([hidden]) g.system'))"
        ".map(s => s.getBoundingClientRect().right)"
    )
    assert rights and max(rights) <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.evaluate("(() => { const b = document.getElementById('score');"
                        " return [b.scrollWidth, b.clientWidth]; })()")
    assert box[0] <= box[1]  # the score box itself does not scroll sideways
    screenshot(page, f"score-four-voices-phone-{width}")
    # the cursor still finds its notes in the phone pages
    page.locator("#track-audio").evaluate("a => { a.currentTime = 12.5; }")
    _wait_until(page, "!!document.querySelector('#score .playing')", 10)
    assert page.evaluate(PLAYING_BAR) == 7
    context.close()
    assert page.console_errors == []


def test_a_wider_window_gets_the_desktop_layout_again(
    live_server, page, make_user, make_track, four_voice_variant
):
    page.set_viewport_size({"width": 390, "height": 844})
    _open_track(page, live_server, make_user, make_track, four_voice_variant, "rosa")
    assert page.evaluate("document.getElementById('score').dataset.layout") == "narrow"
    page.set_viewport_size({"width": 1280, "height": 900})
    _wait_until(page, "document.getElementById('score').dataset.layout === 'wide'", 5)
    page.locator("#score .score-page[data-layout='wide'] svg").first.wait_for(
        state="visible", timeout=10_000)
    # only one layout's pages are in the document: the ids the cursor looks up are unique
    assert page.evaluate("document.querySelectorAll('#score .score-page > svg').length") == (
        page.evaluate("document.querySelectorAll('#score [data-layout=\"wide\"] > svg').length"))
    assert page.evaluate("document.querySelectorAll('#score [data-layout=\"narrow\"] svg')"
                         ".length") == 0
    screenshot(page, "score-four-voices-desktop")
    assert page.console_errors == []
