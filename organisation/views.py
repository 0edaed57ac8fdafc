"""Sign-in pages of the second factor, and the login page of a locked-out person."""

import base64
from urllib.parse import urlencode

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_totp.models import TOTPDevice

from organisation.second_factor import confirmed_device, second_factor_required
from organisation.services import totp_device_confirm, totp_device_prepare
from organisation.signin import lockout_message, signin_completed, signin_failed, signin_locked


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Authentication code"), max_length=20)

    def clean_code(self) -> str:
        # Authenticator apps show the code as "123 456"; people type it so.
        code = "".join(self.cleaned_data["code"].split())
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise forms.ValidationError(_("Enter the 6 digits that your authenticator app shows."))
        return code


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """axes' AXES_LOCKOUT_CALLABLE: the login page, saying that it is locked and for how long."""
    context = {"form": AuthenticationForm(request), "locked_message": lockout_message(), "next": _next_url(request)}
    return render(request, "registration/login.html", context, status=429)


def _next_url(request: HttpRequest) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return ""


def _signed_in(request: HttpRequest, device: TOTPDevice) -> HttpResponse:
    django_otp.login(request, device)
    signin_completed(request, request.user)
    return redirect(_next_url(request) or resolve_url(settings.LOGIN_REDIRECT_URL))


def _wrong_code(request: HttpRequest, form: CodeForm) -> HttpResponse | None:
    """Count the failure; the locked-out page once it is the last one allowed."""
    user = request.user
    signin_failed(request, user)
    if signin_locked(request, user):
        logout(request)
        return locked_out(request)
    form.add_error("code", _("That code is not right. Check the time on your phone and enter the current code."))
    return None


@sensitive_post_parameters("code")
@never_cache
@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    device = confirmed_device(user)
    if device is None:
        return redirect_with_next("otp-setup", request)
    if signin_locked(request, user):
        logout(request)
        return locked_out(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            return _signed_in(request, device)
        if (locked := _wrong_code(request, form)) is not None:
            return locked
    return render(request, "registration/otp_verify.html", {"form": form, "next": _next_url(request)})


@sensitive_post_parameters("code")
@never_cache
@login_required
def otp_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not second_factor_required(user):
        return redirect(settings.LOGIN_REDIRECT_URL)
    if confirmed_device(user) is not None:
        # A device is replaced by an administrator (admin: TOTP devices), not
        # by whoever holds the password.
        return redirect_with_next("otp-verify", request)
    if signin_locked(request, user):
        logout(request)
        return locked_out(request)
    device = totp_device_prepare(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_device_confirm(device=device, token=form.cleaned_data["code"]):
            return _signed_in(request, device)
        if (locked := _wrong_code(request, form)) is not None:
            return locked
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    # The SVG is drawn by qrcode from our own key and carries no text of the
    # person's: nothing in it to escape.
    svg = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")
    context = {
        "form": form,
        "next": _next_url(request),
        "qr_svg": mark_safe(svg),  # noqa: S308 - see above
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "issuer": settings.OTP_TOTP_ISSUER,
    }
    return render(request, "registration/otp_setup.html", context)


def redirect_with_next(name: str, request: HttpRequest) -> HttpResponse:
    response = redirect(name)
    if next_url := _next_url(request):
        response["Location"] += "?" + urlencode({"next": next_url})
    return response
