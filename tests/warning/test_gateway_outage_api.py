"""The gateways gone silent, as the duty officer's map reads them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from organisation.roles import DEPARTMENT_STAFF, DUTY_OFFICER
from tests.factories import GatewayFactory, UserFactory
from warning.models import GatewayOutage, WarningStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def outages():
    now = timezone.now()
    north = GatewayFactory(code="GW-NORTH", name="North station")
    south = GatewayFactory(code="GW-SOUTH", name="South station")
    old = GatewayFactory(code="GW-OLD", name="Old station")
    GatewayOutage.objects.create(
        gateway=north, level=3, opened_at=now - timedelta(minutes=5), silent_sensors=40, last_seen_at=now
    )
    GatewayOutage.objects.create(gateway=south, level=2, opened_at=now - timedelta(minutes=1), silent_sensors=300)
    GatewayOutage.objects.create(
        gateway=old,
        level=1,
        opened_at=now - timedelta(days=1),
        status=WarningStatus.RECOVERED,
        recovered_at=now - timedelta(hours=20),
    )


def test_the_duty_officer_sees_the_silent_gateways_most_severe_first(client, outages):
    client.force_login(UserFactory(username="duty", roles=[DUTY_OFFICER]))

    answer = client.get("/api/v1/gateway-outages/")

    assert answer.status_code == 200
    rows = answer.json()
    assert [(row["gateway_code"], row["level"], row["silent_sensors"]) for row in rows] == [
        ("GW-SOUTH", 2, 300),
        ("GW-NORTH", 3, 40),
    ]
    assert rows[0]["gateway_name"] == "South station"


def test_department_staff_do_not_see_gateway_outages(client, outages, department_a):
    client.force_login(UserFactory(username="crew", roles=[DEPARTMENT_STAFF], department=department_a))

    assert client.get("/api/v1/gateway-outages/").status_code == 403


def test_the_dashboard_knows_where_to_ask(client, outages):
    client.force_login(UserFactory(username="duty", roles=[DUTY_OFFICER]))

    page = client.get("/dashboard/").content.decode()

    assert 'id="gateway-outages"' in page
    assert "/api/v1/gateway-outages/" in page
