"""The browser fixtures of tests/e2e (Debian's Chromium, contexts, screenshots), for the map's browser tests."""

from tests.e2e.conftest import (  # noqa: F401 - fixtures, found by name
    _fast_password_hashing,
    _orm_beside_playwrights_event_loop,
    browser,
    new_context,
    playwright,
    shoot,
)
