"""A second factor (TOTP) for the roles named in ``OTP_REQUIRED_ROLES``.

After the password, a person of such a role without a confirmed device is
sent to set one up, and one with a device is asked for its code; until then
every page leads there and the API and websocket answer as to a stranger.
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from organisation.roles import ADMINISTRATOR, has_role

# Pages an unverified person may still open: the factor's own pages, signing
# out, and what those pages load.
OPEN_URL_NAMES = ("otp-setup", "otp-verify", "login", "logout", "set_language", "javascript-catalog")


def second_factor_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    roles = settings.OTP_REQUIRED_ROLES
    if not roles or not user.is_authenticated:
        return False
    # A superuser administers whatever their groups say.
    if user.is_superuser and ADMINISTRATOR in roles:
        return True
    return any(has_role(user, role) for role in roles)


def confirmed_device(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def second_factor_missing(user: AbstractBaseUser, session: SessionBase) -> bool:
    """True when this session still owes the code it must give (for websockets,
    which pass no OTPMiddleware)."""
    if not second_factor_required(user):
        return False
    device = Device.from_persistent_id(session.get(DEVICE_ID_SESSION_KEY) or "")
    return device is None or device.user_id != user.pk or not device.confirmed


class SecondFactorMiddleware:
    """After django_otp's OTPMiddleware, which sets ``request.user.is_verified``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._open_paths: set[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if second_factor_required(user) and not user.is_verified() and not self._is_open(request.path):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": _("Sign in with your authentication code first.")}, status=403)
            page = "otp-verify" if confirmed_device(user) else "otp-setup"
            return redirect_to_login(request.get_full_path(), login_url=reverse(page))
        return self.get_response(request)

    def _is_open(self, path: str) -> bool:
        if self._open_paths is None:
            self._open_paths = {reverse(name) for name in OPEN_URL_NAMES}
        return path in self._open_paths or path.startswith("/" + settings.STATIC_URL.lstrip("/"))
