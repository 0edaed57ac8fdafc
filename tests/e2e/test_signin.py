"""The hardened sign-in in Chromium, against a daphne that asks duty officers
for a second factor: the duty officer sets up the authenticator app from the
QR page, signs in with a real TOTP code, and a wrong password five times
locks the account with a message in Chinese. Screenshots go to
test-artifacts/e2e/."""

import base64
from collections.abc import Iterator

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from organisation.roles import DUTY_OFFICER
from tests.e2e.conftest import PASSWORD
from tests.factories import UserFactory
from tests.live import VENV_BIN, Server, free_port, start, use_test_redis, wait_for, wait_listening

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def strict_server(django_db_setup, django_db_blocker) -> Iterator[Server]:
    """A daphne of its own: the suite's shared one keeps the development default (no second factor)."""
    use_test_redis()
    port = free_port()
    process = start(
        "daphne-signin",
        [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "citysafety.asgi:application"],
        env={"OTP_REQUIRED_ROLES": "administrator,duty_officer"},
    )
    wait_listening(process, port, "daphne")
    yield Server(process=process, url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port)
    process.stop()


def submit_password(page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.login-form button[type=submit]")


def test_a_duty_officer_signs_in_with_a_totp_code_and_wrong_passwords_lock_the_account(
    strict_server, new_context, shoot
):
    officer = UserFactory(username="duty", first_name="值班员", roles=[DUTY_OFFICER])
    page = new_context().new_page()

    submit_password(page, strict_server.url, "duty", PASSWORD)
    page.wait_for_url("**/login/code/setup/**")
    expect(page.locator("h1")).to_have_text("设置双因素登录")
    expect(page.locator(".otp-qr svg")).to_be_visible()
    shoot(page, "setup")

    device = wait_for(lambda: TOTPDevice.objects.filter(user=officer).first(), timeout=10, what="the device")
    key = page.locator("#otp-secret").inner_text().replace(" ", "")
    # The key shown is the one the server checks codes against.
    assert base64.b32decode(key + "=" * (-len(key) % 8)) == device.bin_key

    page.fill("input[name=code]", f"{(totp(device.bin_key) + 1) % 1_000_000:06d}")
    page.click("form.otp-form button[type=submit]")
    expect(page.locator(".field-error")).to_contain_text("验证码不正确")
    shoot(page, "wrong-code")

    page.fill("input[name=code]", f"{totp(device.bin_key):06d}")
    page.click("form.otp-form button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    device.refresh_from_db()
    assert device.confirmed
    shoot(page, "signed-in")

    # Another browser: five wrong passwords, then the page says it is locked.
    other = new_context().new_page()
    for attempt in range(5):
        submit_password(other, strict_server.url, "duty", f"wrong-password-{attempt}")
        other.wait_for_load_state()
    expect(other.locator("#locked-out")).to_contain_text("锁定 30 分钟")
    shoot(other, "locked-out")

    # The right password is refused while locked.
    submit_password(other, strict_server.url, "duty", PASSWORD)
    expect(other.locator("#locked-out")).to_be_visible()
    assert "/login/" in other.url
