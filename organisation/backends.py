"""The authentication backend that refuses locked-out people."""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest


class LockoutBackend(AxesStandaloneBackend):
    """axes' check before the password, for sign-ins over the network.

    ``authenticate()`` without a request is a script or a management command
    on the server (the demo checks its accounts so), not a sign-in: nothing
    to throttle, and axes would raise instead of answering.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: object
    ) -> AbstractBaseUser | None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
