"""A gateway gone silent shows on the duty officer's map as one line, not a warning per sensor."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from organisation.roles import DUTY_OFFICER
from tests.e2e.conftest import log_in
from tests.factories import GatewayFactory, UserFactory
from warning.models import GatewayOutage, WarningStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_shows_a_silent_gateway_and_clears_it_when_it_is_heard(daphne_server, new_context, shoot):
    UserFactory(username="duty", roles=[DUTY_OFFICER])
    gateway = GatewayFactory(code="GW-NORTH", name="北区网关")
    outage = GatewayOutage.objects.create(
        gateway=gateway, level=2, opened_at=timezone.now() - timedelta(minutes=12), silent_sensors=240
    )
    page = new_context().new_page()
    log_in(page, daphne_server.url, "duty")

    line = page.locator("#gateway-outages [data-gateway=GW-NORTH]")
    expect(line).to_contain_text("网关 GW-NORTH（北区网关）")  # noqa: RUF001
    expect(line).to_contain_text("240 个传感器无数据")
    shoot(page, "01-gateway-silent")

    GatewayOutage.objects.filter(pk=outage.pk).update(status=WarningStatus.RECOVERED, recovered_at=timezone.now())
    expect(page.locator("#gateway-outages")).to_be_hidden(timeout=15_000)
