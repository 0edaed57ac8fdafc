"""研判 on the real stack: a reading posted by a gateway, evaluated by the real
worker, held for verification (pushed to duty officers only), confirmed over
HTTP through daphne, and only then dispatched."""

import json

import pytest
import requests
from django.test import Client
from django.utils import timezone

from dispatch.models import VerificationMode, WorkOrder
from tests.factories import (
    RiskDomainFactory,
    RoutingPolicyFactory,
    SensorFactory,
    SensorTypeFactory,
    ThresholdRuleFactory,
)
from tests.integration.test_pipeline import next_message, post_readings, socket_for
from tests.live import wait_for
from warning.models import TransitionKind, VerificationStatus, Warning

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gas_sensor(department_a, gateway):
    """A methane sensor owned by department A (thresholds 10 / 20 / 50), its Level III held for verification."""
    gas = RiskDomainFactory(code="gas")
    methane = SensorTypeFactory(code="methane", domain=gas)
    ThresholdRuleFactory(sensor_type=methane)
    RoutingPolicyFactory(domain=gas, level=3, include_sensor_owner=True, verification=VerificationMode.VERIFY_FIRST)
    return SensorFactory(code="GAS-0001", sensor_type=methane, owner_department=department_a, gateway=gateway)


def session_for(server, user) -> tuple[requests.Session, str]:
    client = Client()
    client.force_login(user)
    http = requests.Session()
    http.cookies.set("sessionid", client.cookies["sessionid"].value)
    csrf = http.get(f"{server.url}/login/", timeout=10).cookies.get("csrftoken")
    return http, csrf


def test_a_reading_waits_for_verification_then_confirming_dispatches_it(
    daphne_server,
    celery_worker_process,
    gas_sensor,
    gateway,
    duty_officer,
    staff_a,
):
    duty_ws, a_ws = socket_for(daphne_server, duty_officer), socket_for(daphne_server, staff_a)
    try:
        now = timezone.now()
        response = post_readings(
            daphne_server, gateway, [{"sensor": "GAS-0001", "observed_at": now.isoformat(), "value": 12.0}]
        )
        assert response.status_code == 200, response.text

        warning = wait_for(
            lambda: Warning.objects.filter(sensor=gas_sensor, verification=VerificationStatus.PENDING).first(),
            timeout=20,
            what="the warning held for verification",
        )
        # The duty officer hears it join the queue (and the warning itself).
        heard = [next_message(duty_ws), next_message(duty_ws)]
        queued = next(m for m in heard if m["type"] == "verification.changed")
        assert queued["warning"]["id"] == warning.pk
        assert queued["warning"]["verification"] == "pending"
        assert not WorkOrder.objects.filter(warning=warning).exists()
        # The department hears nothing of it: its next message is the pong.
        a_ws.send(json.dumps({"type": "ping"}))
        assert next_message(a_ws)["type"] == "pong"

        http, csrf = session_for(daphne_server, duty_officer)
        confirmed = http.post(
            f"{daphne_server.url}/api/v1/warnings/{warning.pk}/confirm/",
            json={"note": "Confirmed by phone with the gas company."},
            headers={"X-CSRFToken": csrf, "Referer": daphne_server.url},
            timeout=10,
        )
        assert confirmed.status_code == 200, confirmed.text
        again = http.post(
            f"{daphne_server.url}/api/v1/warnings/{warning.pk}/confirm/",
            headers={"X-CSRFToken": csrf, "Referer": daphne_server.url, "Accept-Language": "en"},
            timeout=10,
        )
        assert again.status_code == 409
        assert again.json()["detail"].startswith("This warning was already confirmed by duty at ")

        order = WorkOrder.objects.get(warning=warning)
        assert order.department.code == "gas-company"
        pushed = next_message(a_ws)
        assert pushed["type"] == "work_order.changed"
        assert pushed["work_order"]["id"] == order.pk
        assert list(warning.transitions.values_list("kind", flat=True)) == [
            TransitionKind.OPENED,
            TransitionKind.CONFIRMED,
        ]
    finally:
        duty_ws.close()
        a_ws.close()
