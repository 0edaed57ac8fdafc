"""Idle sessions end (等保 2.0: 登录连接超时自动退出).

A signed-in session keeps the time of its last request; one unused for
``SESSION_IDLE_TIMEOUT_MINUTES`` is signed out on its next request, and a
websocket opened with it is refused (organisation.sockets).
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.utils.translation import ngettext

LAST_SEEN = "citysafety_last_seen"
# The session is written at most this often just to move its clock: every
# request writing the session row would be a database write per request.
TOUCH_EVERY_SECONDS = 60


def session_is_idle(session: SessionBase, *, now: float) -> bool:
    minutes = settings.SESSION_IDLE_TIMEOUT_MINUTES
    last_seen = session.get(LAST_SEEN)
    return bool(minutes) and last_seen is not None and now - last_seen > minutes * 60


def session_touch(session: SessionBase, *, now: float) -> None:
    last_seen = session.get(LAST_SEEN)
    if last_seen is None or now - last_seen >= TOUCH_EVERY_SECONDS:
        session[LAST_SEEN] = int(now)


def session_start(sender: object, request: HttpRequest | None, **kwargs: object) -> None:
    """The clock starts at sign-in, which writes the session anyway; the
    requests of the next minute then write nothing."""
    if request is not None and hasattr(request, "session"):
        session_touch(request.session, now=time.time())


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            if session_is_idle(request.session, now=now):
                logout(request)
                if not request.path.startswith("/api/"):
                    minutes = settings.SESSION_IDLE_TIMEOUT_MINUTES
                    messages.warning(
                        request,
                        ngettext(
                            "You were signed out after %(minutes)d minute without activity. Please sign in again.",
                            "You were signed out after %(minutes)d minutes without activity. Please sign in again.",
                            minutes,
                        )
                        % {"minutes": minutes},
                    )
                    return redirect_to_login(request.get_full_path())
                # The API answers as to anyone not signed in (403).
            else:
                session_touch(request.session, now=now)
        return self.get_response(request)
