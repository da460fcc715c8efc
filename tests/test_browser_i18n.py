"""The studio in a real browser, in Chinese and in English: a Chinese visitor signs up and
reads the mood in Chinese; axe-core finds no serious or critical accessibility problem on any
page in either language; Chinese pages fit desktop and phone without clipped text."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PASSWORD, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

# Elements whose CJK text is cut: wider or taller content than box, with the overflow hidden
CLIPPED_CJK = """() => {
  const cjk = /[\\u3400-\\u9fff\\uff00-\\uffef]/;
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!el.childNodes.length || !cjk.test(el.textContent || "")) continue;
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    if (el.closest(".visually-hidden, .skip-link")) continue;
    const hides = ["hidden", "clip"].includes(style.overflowX) || ["hidden", "clip"].includes(style.overflowY)
      || style.textOverflow === "ellipsis";
    if (hides && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)) {
      out.push(el.tagName + "." + el.className + ": " + el.textContent.trim().slice(0, 40));
    }
  }
  return out;
}"""


def _context(browser, size: str, locale: str):
    return browser.new_context(viewport=SIZES[size], is_mobile=size == "phone", locale=locale)






def _axe_violations(page) -> list[str]:
    """Serious and critical WCAG 2 A/AA violations that axe-core finds on the page."""
    page.evaluate(AXE.read_text())  # evaluate is not subject to the page's CSP
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', "
        "'wcag21a', 'wcag21aa']}}).then(r => r.violations.filter(v => "
        "['serious', 'critical'].includes(v.impact)).map(v => v.id + ': ' + "
        "v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))"
    )
    return result


def test_a_chinese_visitor_signs_up_and_reads_the_mood_in_chinese(live_server, playwright_browser):
    context = _context(playwright_browser, "desktop", "zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_server.url + "/accounts/signup/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.locator("#id_username").fill("xiaoming")
    page.locator("#id_email").fill("xm@example.com")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="注册").click()
    page.wait_for_url("**/compose/**")
    assert page.locator("#id_mood").input_value() == "海上暴风雨之夜，心绪不宁"
    page.locator("#mood-reading").wait_for(state="visible", timeout=15_000)
    explanation = page.locator("#mood-explanation").text_content()
    assert "读起来" in explanation and "小调" in explanation, explanation
    assert page.get_by_role("button", name="生成").is_visible()
    assert errors == []
    context.close()


def test_chinese_compose_and_track_pages_fit_desktop_and_phone(
        live_server, playwright_browser, make_user, make_track):
    owner = make_user("lihua")
    track = make_track(owner, title="雨夜", visibility="public",
                       parameters={"mood": "雨夜里的思念"})
    for size in SIZES:
        context = _context(playwright_browser, size, "zh-CN")
        page = context.new_page()
        log_in(page, live_server.url, "lihua")
        for name, path in (("compose", "/compose/?mood=雨夜里的思念"),
                           ("track", f"/tracks/{track.id}/")):
            page.goto(live_server.url + path)
            if name == "compose":
                page.locator("#mood-reading").wait_for(state="visible", timeout=15_000)
            else:
                page.locator("#score .score-page svg").first.wait_for(
                    state="visible", timeout=20_000)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= SIZES[size]["width"], f"{name} scrolls sideways on {size}"
            assert page.evaluate(CLIPPED_CJK) == [], f"clipped Chinese text on {name} {size}"
            # for people to look at (copies of the ones checked are kept in docs/screenshots/)
            screenshot(page, f"zh-{name}-{size}")
        context.close()


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is installed by `make test` (npm)")
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_axe_finds_no_serious_problem_on_any_page(
        live_server, playwright_browser, make_user, make_track, locale):
    from generation.models import Job

    owner = make_user("vera")
    track = make_track(owner, title="Harbour lights", visibility="public")
    job = Job.objects.create(owner=owner, kind="compose", parameters={"mood": "calm"},
                             status=Job.Status.RUNNING, progress=40, stage="composing")
    context = _context(playwright_browser, "desktop", locale)
    page = context.new_page()
    found = {}
    for path in ("/", "/gallery/", "/accounts/login/", "/accounts/signup/",
                 "/accounts/password/reset/", "/no-such-page/"):
        page.goto(live_server.url + path)
        found[path] = _axe_violations(page)
    log_in(page, live_server.url, "vera")
    for path in ("/compose/", f"/tracks/{track.id}/", "/tracks/", f"/jobs/{job.id}/",
                 "/accounts/profile/", f"/tracks/{track.id}/delete/", "/listen/"):
        page.goto(live_server.url + path)
        if path == f"/tracks/{track.id}/":  # the piano roll's table is checked open
            page.locator(".roll-table summary").click()
            page.locator(".roll-table tbody tr").first.wait_for(state="visible")
            screenshot(page, f"track-notes-table-{locale}")
        found[path] = _axe_violations(page)
    owner.is_staff = True  # and the staff pages
    owner.save()
    for path in ("/evaluation/", "/moderation/"):
        page.goto(live_server.url + path)
        assert page.url.endswith(path), page.url  # the page itself, not the log-in form
        found[path] = _axe_violations(page)
    context.close()
    assert {p: v for p, v in found.items() if v} == {}


def test_compose_to_playback_by_keyboard_alone(live_server, playwright_browser, make_user,
                                               make_track):
    """Every step reachable with Tab/Enter/Space: the nav link to a track, the player."""
    owner = make_user("kai")
    track = make_track(owner, title="Keyboard song", visibility="public")
    context = _context(playwright_browser, "desktop", "en-US")
    page = context.new_page()
    log_in(page, live_server.url, "kai")
    page.goto(live_server.url + "/tracks/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Keyboard song":
            break
    else:
        pytest.fail("the track's link is not reachable by Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/tracks/{track.id}/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "track-audio":
            break
    else:
        pytest.fail("the player is not reachable by Tab")
    page.keyboard.press("Space")
    page.wait_for_function("!document.getElementById('track-audio').paused", timeout=10_000)
    context.close()


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is installed by `make test` (npm)")
def test_the_axe_check_reports_a_real_problem(playwright_browser):
    """The check above can fail: an image without a text alternative and a nameless button
    are reported."""
    context = playwright_browser.new_context()
    page = context.new_page()
    page.set_content('<html lang="en"><head><title>t</title></head><body><main>'
                     '<img src="data:image/png;base64,iVBORw0KGgo="><button></button>'
                     "</main></body></html>")
    found = " ".join(_axe_violations(page))
    context.close()
    assert "image-alt" in found and "button-name" in found
