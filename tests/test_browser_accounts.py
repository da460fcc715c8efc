"""A new visitor signs up, logs out and logs back in, in a real headless Chromium."""

import re

import pytest

from tests.conftest import PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_new_user_signs_up_logs_out_and_logs_back_in(live_server, page):
    page.goto(live_server.url + "/")
    screenshot(page, "landing-desktop")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill("clara")
    page.get_by_label("Email").fill("clara@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    # a new account lands on Compose with an example mood filled in
    page.wait_for_url(re.compile(r".*/compose/\?mood=.+"))
    assert page.get_by_text("Welcome to Cadenza, clara!").is_visible()

    page.get_by_role("link", name="clara").click()
    page.wait_for_url("**/accounts/profile/")
    assert page.get_by_role("heading", name="clara").is_visible()
    screenshot(page, "profile-desktop")

    page.get_by_role("button", name="Log out").click()
    assert page.get_by_role("link", name="Log in").first.is_visible()

    page.get_by_role("link", name="Log in").first.click()
    page.get_by_label("Username").fill("clara")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + "/")
    assert page.get_by_role("button", name="Log out").is_visible()
    assert page.console_errors == []


def test_the_landing_page_reads_well_on_a_phone(live_server, playwright_browser):
    context = playwright_browser.new_context(viewport={"width": 390, "height": 844},
                                             is_mobile=True)
    page = context.new_page()
    page.goto(live_server.url + "/")
    menu = page.get_by_role("button", name="Menu")
    assert menu.is_visible()
    menu.click()
    assert page.get_by_role("link", name="Sign up").first.is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    screenshot(page, "landing-phone")
    context.close()
