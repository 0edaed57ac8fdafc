"""A gateway gone silent shows on the duty officer's map as one line, not a warning per sensor.

The sweep runs on the real worker, as beat sends it, and the line comes
with its push: once the page has read the list (on connecting), the list's
API is cut off, so a page still polling it could show nothing.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.models import Gateway
from organisation.roles import DUTY_OFFICER
from tests.e2e.conftest import log_in
from tests.factories import GatewayFactory, SensorFactory, SensorTypeFactory, ThresholdRuleFactory, UserFactory
from tests.live import wait_for
from tests.warning.test_no_data import NO_DATA
from warning.models import GatewayOutage, WarningStatus
from warning.tasks import warn_silent_sensors

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OUTAGES_API = "**/api/v1/gateway-outages/**"

TEXTS = {
    "zh-CN": {
        "line": ["网关 GW-NORTH（北区网关）", "3 个传感器无数据"],  # noqa: RUF001
        "toast": "网关 GW-NORTH 静默：3 个传感器无数据。",  # noqa: RUF001
        "told": "网关 GW-NORTH（北区网关）已静默",  # noqa: RUF001
    },
    "en-GB": {
        "line": ["gateway GW-NORTH (北区网关)", "3 sensors without data."],
        "toast": "Gateway GW-NORTH silent: 3 sensors without data.",
        "told": "Gateway GW-NORTH (北区网关) has gone silent",
    },
}


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_a_silent_gateway_is_pushed_to_the_map_and_leaves_it_when_heard(
    daphne_server, celery_worker_process, new_context, shoot, locale
):
    texts = TEXTS[locale]
    UserFactory(username="duty", roles=[DUTY_OFFICER])
    sensor_type = SensorTypeFactory()
    ThresholdRuleFactory(sensor_type=sensor_type, **NO_DATA)
    gateway = GatewayFactory(code="GW-NORTH", name="北区网关")
    silent_since = timezone.now() - timedelta(minutes=12)
    Gateway.objects.filter(pk=gateway.pk).update(last_seen_at=silent_since)
    for _ in range(3):
        SensorFactory(sensor_type=sensor_type, gateway=gateway, latest_value=1.0, latest_observed_at=silent_since)

    page = new_context(locale=locale).new_page()
    with page.expect_response(lambda response: "/api/v1/gateway-outages/" in response.url) as first_read:
        log_in(page, daphne_server.url, "duty")
    assert first_read.value.json() == []
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    reads_after = []
    page.route(OUTAGES_API, lambda route: (reads_after.append(route.request.url), route.abort()))
    outages = page.locator("#gateway-outages")
    expect(outages).to_be_hidden()

    warn_silent_sensors.delay()
    outage = wait_for(lambda: GatewayOutage.objects.first(), timeout=30, what="the outage")
    assert outage.silent_sensors == 3

    line = outages.locator("[data-gateway=GW-NORTH]")
    for text in texts["line"]:
        expect(line).to_contain_text(text)
    # The map's news of the outage and the duty officer's notification of it are one toast,
    # the notification's (it says more), whichever of the two arrived first.
    toast = page.locator(f"#toasts .toast[data-subject='outage:{outage.pk}']")
    expect(toast).to_have_count(1)
    expect(toast).to_contain_text(texts["told"])
    expect(page.locator("#toasts .toast").filter(has_text=texts["toast"])).to_have_count(0)
    shoot(page, f"01-gateway-silent-{locale}")

    Gateway.objects.filter(pk=gateway.pk).update(last_seen_at=timezone.now())
    warn_silent_sensors.delay()
    expect(outages).to_be_hidden(timeout=30_000)
    assert GatewayOutage.objects.get().status == WarningStatus.RECOVERED
    shoot(page, f"02-gateway-heard-{locale}")
    assert reads_after == []
