"""Sign-in rules for websockets, which pass no HTTP middleware: a session
gone idle, or one still owing its second factor, opens no socket."""

import time
from collections.abc import Callable

from channels.db import database_sync_to_async
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.backends.base import SessionBase

from organisation.idle import session_is_idle
from organisation.second_factor import second_factor_missing


class SignInSocketMiddleware:
    """Inside channels' AuthMiddlewareStack; the consumer then sees an
    anonymous user and refuses the socket (4401)."""

    def __init__(self, inner: Callable) -> None:
        self.inner = inner

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        user = scope.get("user")
        session = scope.get("session")
        signed_in = user is not None and session is not None and user.is_authenticated
        if signed_in and await database_sync_to_async(_refused)(session, user):
            scope = {**scope, "user": AnonymousUser()}
        return await self.inner(scope, receive, send)


def _refused(session: SessionBase, user: AbstractBaseUser) -> bool:
    return session_is_idle(session, now=time.time()) or second_factor_missing(user, session)
