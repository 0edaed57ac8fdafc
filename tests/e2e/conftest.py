"""Headless Chromium (Debian's, never Playwright's download) against the real stack.

Playwright's sync API runs an event loop in this thread, so Django refuses
ORM calls from it unless told that this is deliberate: the tests set up
their data and check the database between browser steps.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.live import ARTIFACTS_ROOT

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]
# Named for their test, so every xdist worker may write them side by side.
SCREENSHOTS = ARTIFACTS_ROOT / "e2e"
PASSWORD = "pass-word-123"

expect.set_options(timeout=10_000)


@pytest.fixture(autouse=True)
def _fast_password_hashing():
    """Keep the real password hashers (overrides the suite-wide MD5 shortcut).

    People sign in through daphne, a separate process with the project's
    hashers: a password hashed with MD5 in this process could not be checked there.
    """


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Browser contexts (one per person), Chinese and on a 1366 x 768 screen unless asked otherwise."""
    contexts: list[BrowserContext] = []

    def make(**options) -> BrowserContext:
        options = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-CN", **options}
        context = browser.new_context(**options)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shoot(request) -> Callable[[Page, str], Path]:
    """Save a screenshot as a test artefact: test-artifacts/e2e/<test>-<step>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test_name = request.node.name

    def take(page: Page, step: str) -> Path:
        path = SCREENSHOTS / f"{test_name}-{step}.png"
        page.screenshot(path=str(path))
        return path

    return take


def log_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real login form, as a person would."""
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


@pytest.fixture(scope="session", autouse=True)
def _orm_beside_playwrights_event_loop():
    """Playwright's sync API runs an event loop in this thread; the tests still use the ORM.

    Set for the browser tests only, and never passed to the servers they
    start (``tests.live.child_env`` drops it).
    """
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
