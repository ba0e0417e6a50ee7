"""Real Chromium (Debian's ``chromium``) driven by Playwright against pytest-django's live server.

One browser for the session, a fresh context (cookies) per test. Every
request the page makes must go to the live server: anything else (a CDN, a
web font) fails the test, and so does a JavaScript error.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings

from tests.stewardship.hub import PASSWORD, Hub, make_users

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
SHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"Browser tests need Chromium at {CHROMIUM}: install Debian's package "
                    "(apt-get install chromium); CI's .ci/run does.", pytrace=False)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an asyncio loop in this thread; Django then
    # refuses ORM calls from it unless told the test knows what it does.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def users(transactional_db):
    return make_users()


@pytest.fixture
def hub(transactional_db, customer_type, sources):
    return Hub(customer_type, sources)


# CI machines are slower and busier than a laptop: give every expectation the
# same generous budget as actions instead of Playwright's 5 s default.
from playwright.sync_api import expect  # noqa: E402

expect.set_options(timeout=15_000)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900},
                                  locale="en-US", timezone_id="UTC")
    context.set_default_timeout(10_000)
    own_host = urlparse(live_server.url).netloc
    outside, problems = [], []

    def only_the_app(route):
        url = route.request.url
        if urlparse(url).netloc == own_host or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", only_the_app)
    tab = context.new_page()
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # Hostile test data calls alert(): a dialog means a script from the data ran.
    tab.on("dialog", lambda dialog: (problems.append(f"dialog opened: {dialog.message}"), dialog.dismiss()))
    tab.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
           if msg.type == "error" and "status of 4" not in msg.text else None)
    yield tab
    context.close()
    assert outside == [], f"the page reached outside the app: {outside}"
    assert problems == [], problems


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".topbar .user")


def shot(page, name: str) -> Path:
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
