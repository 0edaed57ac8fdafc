"""Failed sign-ins and lockout (django-axes), shared by the password and the
code steps: a wrong authentication code counts as a failed sign-in of that
person, and a lockout holds for both steps."""

import math

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest
from django.utils.translation import ngettext

from organisation.idle import session_start
from organisation.second_factor import second_factor_required


def lockout_minutes() -> int:
    return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)


def lockout_message() -> str:
    # Every failure while locked starts the cool-off again, so the wait is
    # the whole cool-off from this attempt.
    minutes = lockout_minutes()
    return ngettext(
        "Too many failed sign-ins: this account is locked for %(minutes)d minute. "
        "Try again then, or ask an administrator to unlock it.",
        "Too many failed sign-ins: this account is locked for %(minutes)d minutes. "
        "Try again then, or ask an administrator to unlock it.",
        minutes,
    ) % {"minutes": minutes}


def _credentials(user: AbstractBaseUser) -> dict:
    return {"username": user.get_username()}


def signin_locked(request: HttpRequest, user: AbstractBaseUser) -> bool:
    return settings.AXES_ENABLED and AxesProxyHandler.is_locked(request, _credentials(user))


def signin_failed(request: HttpRequest, user: AbstractBaseUser) -> None:
    """Record a failure of the second step as axes records the first's."""
    user_login_failed.send(sender=__name__, credentials=_credentials(user), request=request)


def signin_completed(request: HttpRequest, user: AbstractBaseUser) -> None:
    """A full sign-in forgets this person's failures from this address.

    Not axes' AXES_RESET_ON_SUCCESS: that resets on the password alone, and
    someone who knows the password could then guess codes without end.
    """
    if settings.AXES_ENABLED:
        AxesProxyHandler.update_request(request)
        AxesProxyHandler.reset_attempts(ip_address=request.axes_ip_address, username=user.get_username())


def _reset_after_password(sender: object, request: HttpRequest | None, user: AbstractBaseUser, **kwargs) -> None:
    # force_login and scripts sign in without a request.
    if request is not None and not second_factor_required(user):
        signin_completed(request, user)


def connect() -> None:
    user_logged_in.connect(session_start, dispatch_uid="organisation.idle.session_start")
    user_logged_in.connect(_reset_after_password, dispatch_uid="organisation.signin.reset_after_password")
