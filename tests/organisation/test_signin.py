"""The hardened sign-in (等保 2.0 level 3): lockout after failed sign-ins,
idle sessions ending, the password policy, and a second factor for the roles
that need one."""

import base64
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from demo.catalogue import DEPARTMENT_PASSWORD, USERS
from organisation.idle import LAST_SEEN
from organisation.roles import ADMINISTRATOR, DUTY_OFFICER
from organisation.second_factor import second_factor_missing
from tests.conftest import PASSWORD
from tests.factories import UserFactory

ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


def sign_in(client: Client, username: str, password: str = PASSWORD, url: str = "/login/", **extra):
    return client.post(url, {"username": username, "password": password}, **ENGLISH, **extra)


def fail(client: Client, username: str, times: int, **extra) -> None:
    for _ in range(times):
        response = sign_in(client, username, "not-the-password-1", **extra)
        # The last one allowed answers with the lockout.
        assert response.status_code in (200, 429)


# --- Lockout ------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_and_say_for_how_long(client, duty_officer):
    fail(client, "duty", 4)
    response = sign_in(client, "duty", "not-the-password-1")
    assert response.status_code == 429
    assert "locked for 30 minutes" in response.content.decode()

    # Even the right password is refused while locked.
    response = sign_in(client, "duty")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_message_is_in_the_readers_language(client, duty_officer):
    fail(client, "duty", 5)
    response = client.post("/login/", {"username": "duty", "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 429
    assert "锁定 30 分钟" in response.content.decode()


def test_four_wrong_passwords_still_let_the_right_one_in_and_forget_the_failures(client, duty_officer):
    fail(client, "duty", 4)
    response = sign_in(client, "duty")
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="duty").exists()


def test_the_lockout_is_set_by_environment():
    """AXES_FAILURE_LIMIT and AXES_COOLOFF_MINUTES reach axes (read in a fresh interpreter)."""
    env = {"AXES_FAILURE_LIMIT": "3", "AXES_COOLOFF_MINUTES": "45", "AXES_LOCKOUT_PARAMETERS": "user_or_address"}
    code = (
        "import django,os;os.environ.setdefault('DJANGO_SETTINGS_MODULE','citysafety.settings');"
        "from django.conf import settings as s;"
        "print(s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()), s.AXES_LOCKOUT_PARAMETERS)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "3 2700 ['username', 'ip_address']"

    bad = subprocess.run(
        [sys.executable, "-c", code + ";import django;django.setup()"],
        env={**os.environ, "AXES_LOCKOUT_PARAMETERS": "by_moon"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0
    assert "AXES_LOCKOUT_PARAMETERS='by_moon'" in bad.stderr


def test_the_lockout_holds_for_that_person_at_that_address_only(client, duty_officer, staff_a):
    fail(client, "duty", 5)
    # A colleague behind the same address signs in.
    assert sign_in(Client(), "alice").status_code == 302
    # The same person from another address signs in.
    assert sign_in(Client(), "duty", REMOTE_ADDR="10.1.2.3").status_code == 302


def test_the_admin_login_is_throttled_too(client, admin_user):
    for _ in range(5):
        sign_in(client, "admin", "not-the-password-1", url="/admin/login/")
    response = sign_in(client, "admin", url="/admin/login/")
    assert response.status_code == 429
    assert "locked for 30 minutes" in response.content.decode()


def test_an_administrator_sees_failures_and_sign_ins_and_unlocks_in_admin(client, duty_officer, admin_user):
    fail(client, "duty", 5)
    admin = Client()
    admin.force_login(admin_user)

    attempts = admin.get("/admin/axes/accessattempt/", **ENGLISH)
    assert attempts.status_code == 200
    assert "duty" in attempts.content.decode()

    # Unlocking is deleting the attempt.
    attempt = AccessAttempt.objects.get(username="duty")
    response = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert sign_in(client, "duty").status_code == 302

    log = admin.get("/admin/axes/accesslog/", **ENGLISH)
    assert log.status_code == 200
    assert AccessLog.objects.filter(username="duty").exists()
    assert "duty" in log.content.decode()


def test_a_department_person_cannot_see_or_unlock_sign_ins(client, staff_a, duty_officer):
    fail(client, "duty", 5)
    other = Client()
    other.force_login(staff_a)
    assert other.get("/admin/axes/accessattempt/").status_code == 302  # to the admin login
    attempt = AccessAttempt.objects.get(username="duty")
    other.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


def test_a_gateways_wrong_tokens_are_not_sign_ins(client, gateway):
    for _ in range(8):
        response = client.post(
            "/api/v1/readings/", "[]", content_type="application/json", HTTP_AUTHORIZATION="Bearer wrong-token"
        )
        assert response.status_code in (401, 403)
    assert not AccessAttempt.objects.exists()
    response = client.post(
        "/api/v1/readings/", "[]", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {gateway.token}"
    )
    assert response.status_code not in (401, 403, 429)


# --- Idle sessions ----------------------------------------------------------------


def test_an_idle_session_is_signed_out_on_its_next_request_with_a_message(client, duty_officer):
    with freeze_time("2026-12-01 08:00:00") as clock:
        assert sign_in(client, "duty").status_code == 302
        assert client.get("/dashboard/", **ENGLISH).status_code == 200
        clock.tick(timedelta(minutes=31))
        response = client.get("/warnings/closed/", **ENGLISH)
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next=/warnings/closed/"
        page = client.get(response["Location"], **ENGLISH)
        assert "signed out after 30 minutes without activity" in page.content.decode()
        assert "_auth_user_id" not in client.session


def test_a_session_in_use_stays_signed_in(client, duty_officer):
    with freeze_time("2026-12-01 08:00:00") as clock:
        client.force_login(duty_officer)
        for _ in range(4):
            assert client.get("/dashboard/", **ENGLISH).status_code == 200
            clock.tick(timedelta(minutes=29))
        assert client.get("/dashboard/", **ENGLISH).status_code == 200


def test_an_idle_session_gets_no_answer_from_the_api(client, duty_officer):
    with freeze_time("2026-12-01 08:00:00") as clock:
        client.force_login(duty_officer)
        assert client.get("/api/v1/warnings/").status_code == 200
        clock.tick(timedelta(minutes=31))
        assert client.get("/api/v1/warnings/").status_code == 403


def test_the_idle_timeout_follows_its_setting(client, duty_officer, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 5
    with freeze_time("2026-12-01 08:00:00") as clock:
        client.force_login(duty_officer)
        assert client.get("/dashboard/", **ENGLISH).status_code == 200
        clock.tick(timedelta(minutes=6))
        assert client.get("/dashboard/", **ENGLISH).status_code == 302


# --- Password policy --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("password", [spec.password for spec in USERS] + [DEPARTMENT_PASSWORD, PASSWORD])
def test_the_demo_and_test_passwords_pass_the_policy(password):
    validate_password(password, UserFactory.build(username="someone"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("abc-12", "at least 10 characters"),
        ("abcdefghijkl", "at least 2 of these kinds of character"),
        ("password123", "too common"),
        ("2718281828459", "entirely numeric"),
        ("duty-officer", "too similar to the username"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    with pytest.raises(ValidationError) as error:
        validate_password(password, UserFactory.build(username="duty-officer"))
    assert any(reason in message for message in error.value.messages), error.value.messages


# --- Second factor ------------------------------------------------------------------


@pytest.fixture
def otp_on(settings):
    settings.OTP_REQUIRED_ROLES = [ADMINISTRATOR, DUTY_OFFICER]


def code_of(device: TOTPDevice, *, drift: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


def test_a_duty_officer_without_a_device_sets_one_up_and_is_signed_in(client, duty_officer, otp_on):
    response = client.post(
        "/login/", {"username": "duty", "password": PASSWORD, "next": "/warnings/closed/"}, follow=True, **ENGLISH
    )
    assert response.redirect_chain[-1][0] == f"{reverse('otp-setup')}?next=/warnings/closed/"
    page = response.content.decode()
    assert "<svg" in page
    device = TOTPDevice.objects.get(user=duty_officer, confirmed=False)
    secret = page.split('id="otp-secret">')[1].split("<")[0].replace(" ", "")
    assert base64.b32decode(secret + "=" * (-len(secret) % 8)) == device.bin_key

    # Reloading shows the same secret: the app already scanned it.
    assert client.get(reverse("otp-setup"), **ENGLISH).context["secret_groups"] == response.context["secret_groups"]

    response = client.post(reverse("otp-setup"), {"code": code_of(device), "next": "/warnings/closed/"}, **ENGLISH)
    assert response.status_code == 302
    assert response["Location"] == "/warnings/closed/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/warnings/closed/", **ENGLISH).status_code == 200


def test_a_person_with_a_device_is_asked_for_the_code_at_each_sign_in(client, duty_officer, otp_on):
    device = TOTPDevice.objects.create(user=duty_officer, name="phone", confirmed=True)
    response = sign_in(client, "duty")
    assert client.get(response["Location"], **ENGLISH)["Location"].startswith(reverse("otp-verify"))
    # Nothing opens before the code.
    assert client.get("/warnings/closed/")["Location"].startswith(reverse("otp-verify"))
    api = client.get("/api/v1/warnings/", **ENGLISH)
    assert api.status_code == 403
    assert "authentication code" in json.loads(api.content)["detail"]

    wrong = client.post(reverse("otp-verify"), {"code": "12 34 5x"}, **ENGLISH)
    assert "Enter the 6 digits" in wrong.content.decode()
    response = client.post(reverse("otp-verify"), {"code": code_of(device, drift=-10)}, **ENGLISH)
    assert "That code is not right" in response.content.decode()

    response = client.post(reverse("otp-verify"), {"code": code_of(device)}, **ENGLISH)
    assert response.status_code == 302
    assert client.get("/api/v1/warnings/").status_code == 200
    # The full sign-in forgets the wrong code.
    assert not AccessAttempt.objects.filter(username="duty").exists()


def test_wrong_codes_count_as_failed_sign_ins_and_lock_the_account(client, duty_officer, otp_on):
    device = TOTPDevice.objects.create(user=duty_officer, name="phone", confirmed=True)
    sign_in(client, "duty")
    for _ in range(4):
        response = client.post(reverse("otp-verify"), {"code": code_of(device, drift=-10)}, **ENGLISH)
        assert response.status_code == 200
    # The password again does not wipe the count.
    response = client.post(reverse("otp-verify"), {"code": code_of(device, drift=-10)}, **ENGLISH)
    assert response.status_code == 429
    assert "locked for 30 minutes" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert sign_in(client, "duty").status_code == 429


def test_the_password_alone_does_not_reset_the_count_of_wrong_codes(client, duty_officer, otp_on):
    device = TOTPDevice.objects.create(user=duty_officer, name="phone", confirmed=True)
    for _ in range(5):
        assert sign_in(client, "duty").status_code == 302
        client.post(reverse("otp-verify"), {"code": code_of(device, drift=-10)}, **ENGLISH)
    assert sign_in(client, "duty").status_code == 429


def test_department_staff_are_not_asked_for_a_code(client, staff_a, otp_on):
    assert sign_in(client, "alice").status_code == 302
    assert client.get("/work-orders/", **ENGLISH).status_code == 200
    # Nor can they make a device for themselves, or anyone else.
    assert client.get(reverse("otp-setup")).status_code == 302
    assert not TOTPDevice.objects.exists()


def test_the_code_pages_need_a_signed_in_person(client, otp_on):
    for name in ("otp-setup", "otp-verify"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_the_setup_page_shows_only_the_signed_in_persons_own_key(client, duty_officer, admin_user, otp_on):
    other = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=False)
    client.force_login(duty_officer)
    page = client.get(reverse("otp-setup"), **ENGLISH)
    mine = TOTPDevice.objects.get(user=duty_officer)
    assert "".join(page.context["secret_groups"]) != ""
    assert base64.b32encode(other.bin_key).decode().rstrip("=")[:16] not in "".join(page.context["secret_groups"])
    assert base64.b32encode(mine.bin_key).decode().rstrip("=") == "".join(page.context["secret_groups"])


def test_otp_required_roles_follows_debug_and_the_environment():
    import os

    code = (
        "import os;os.environ.setdefault('DJANGO_SETTINGS_MODULE','citysafety.settings');"
        "from django.conf import settings as s;print(','.join(s.OTP_REQUIRED_ROLES) or '-')"
    )

    def roles(**env: str) -> str:
        base = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "OTP_REQUIRED_ROLES")}
        return subprocess.run(
            [sys.executable, "-c", code],
            env={**base, "SECRET_KEY": "x" * 60, **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert roles(DEBUG="0") == "administrator,duty_officer"
    assert roles(DEBUG="1") == "-"
    assert roles(DEBUG="0", OTP_REQUIRED_ROLES="") == "-"
    assert roles(DEBUG="1", OTP_REQUIRED_ROLES="duty_officer") == "duty_officer"


# --- Websocket ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_websocket_refuses_a_stale_session_and_one_owing_its_code(daphne_server, duty_officer):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    def opened(session_key: str) -> dict | int:
        ws = connect(
            f"ws://{daphne_server.host}:{daphne_server.port}/ws/live/",
            additional_headers={"Cookie": f"sessionid={session_key}"},
            origin=f"http://{daphne_server.host}:{daphne_server.port}",
            open_timeout=10,
        )
        try:
            return json.loads(ws.recv(timeout=10))
        except ConnectionClosed as closed:
            return closed.rcvd.code
        finally:
            ws.close()

    client = Client()
    client.force_login(duty_officer)
    client.get("/dashboard/")
    key = client.cookies["sessionid"].value
    assert opened(key)["type"] == "hello"

    session = SessionStore(session_key=key)
    session[LAST_SEEN] -= 31 * 60
    session.save()
    assert opened(key) == 4401


def test_a_socket_session_owes_its_code_until_it_is_given(client, duty_officer, staff_a, otp_on):
    """What organisation.sockets refuses: the daphne of the test above asks no code."""
    device = TOTPDevice.objects.create(user=duty_officer, name="phone", confirmed=True)
    sign_in(client, "duty")
    session = SessionStore(session_key=client.cookies["sessionid"].value)
    assert second_factor_missing(duty_officer, session)

    client.post(reverse("otp-verify"), {"code": code_of(device)}, **ENGLISH)
    session = SessionStore(session_key=client.cookies["sessionid"].value)
    assert not second_factor_missing(duty_officer, session)
    # Someone else's verified session does not stand for this person.
    assert second_factor_missing(UserFactory(username="duty2", roles=[DUTY_OFFICER]), session)
    # Department staff owe nothing.
    assert not second_factor_missing(staff_a, SessionStore())
