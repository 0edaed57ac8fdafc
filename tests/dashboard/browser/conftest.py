"""The browser fixtures of tests/e2e (Debian's Chromium, contexts, screenshots), for the map's browser tests.

Playwright's sync API allows one instance per thread at a time, and tests/e2e
keeps its own for the whole session: this package's instance lives only while
its tests run (pytest collects tests/dashboard before tests/e2e), so one
``pytest -m e2e`` runs both.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.e2e.conftest import (  # noqa: F401 - fixtures, found by name
    CHROMIUM,
    CHROMIUM_ARGS,
    _fast_password_hashing,
    _orm_beside_playwrights_event_loop,
    new_context,
    shoot,
)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()
