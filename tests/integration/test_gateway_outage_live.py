"""A gateway outage found by the real worker's sweep reaches the duty officer's socket, and the person on duty once.

The sweep is sent as beat sends it (``warn_silent_sensors.delay()``) to the
session's Celery worker; daphne serves the socket; Redis carries the push.
"""

import json
import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from websockets.sync.client import ClientConnection

from monitoring.models import Gateway
from notifications.models import Notification, NotificationKind
from tests.factories import GatewayFactory, SensorFactory, SensorTypeFactory, ThresholdRuleFactory
from tests.integration.test_pipeline import socket_for
from tests.live import wait_for
from tests.warning.test_no_data import NO_DATA
from warning.models import GatewayOutage, WarningStatus
from warning.tasks import warn_silent_sensors

pytestmark = pytest.mark.django_db(transaction=True)

SWEEP_DONE = re.compile(r"warning\.tasks\.warn_silent_sensors\[[^\]]+\] succeeded")


def messages_until(ws: ClientConnection, wanted: set[str], timeout: float = 20.0) -> dict[str, dict]:
    """The first message of each wanted type, past any other the feed sends."""
    found: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while set(found) != wanted:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message["type"] in wanted:
            found.setdefault(message["type"], message)
    return found


def sweep(worker) -> None:
    """Run one sweep on the worker, and wait until it is done."""
    done = len(SWEEP_DONE.findall(worker.output()))
    warn_silent_sensors.delay()
    wait_for(lambda: len(SWEEP_DONE.findall(worker.output())) > done, timeout=30, what="the sweep")


def test_the_workers_sweep_pushes_an_outage_and_its_end_to_the_duty_officers_socket(
    daphne_server, celery_worker_process, duty_officer, staff_a
):
    sensor_type = SensorTypeFactory()
    ThresholdRuleFactory(sensor_type=sensor_type, **NO_DATA)
    gateway = GatewayFactory(code="GW-LIVE", name="Live station")
    silent_since = timezone.now() - timedelta(minutes=30)
    Gateway.objects.filter(pk=gateway.pk).update(last_seen_at=silent_since)
    for _ in range(5):
        SensorFactory(sensor_type=sensor_type, gateway=gateway, latest_value=1.0, latest_observed_at=silent_since)

    duty_ws, staff_ws = socket_for(daphne_server, duty_officer), socket_for(daphne_server, staff_a)
    try:
        sweep(celery_worker_process)
        got = messages_until(duty_ws, {"gateway_outage.changed", "notification.created"})
        outages = got["gateway_outage.changed"]["outages"]
        assert [(o["gateway_code"], o["status"], o["silent_sensors"], o["level"]) for o in outages] == [
            ("GW-LIVE", "active", 5, 2)
        ]
        notification = got["notification.created"]["notification"]
        assert notification["kind"] == NotificationKind.GATEWAY_SILENT
        # The map's own news of the outage names the same subject: one toast, not two.
        assert notification["subject"] == f"outage:{outages[0]['id']}"
        assert "GW-LIVE" in notification["text"]["en"]

        # Beat's next sweep finds the same outage: nobody is told twice.
        sweep(celery_worker_process)
        assert Notification.objects.filter(kind=NotificationKind.GATEWAY_SILENT).count() == 1
        assert GatewayOutage.objects.filter(status=WarningStatus.ACTIVE).count() == 1

        Gateway.objects.filter(pk=gateway.pk).update(last_seen_at=timezone.now())
        sweep(celery_worker_process)
        got = messages_until(duty_ws, {"gateway_outage.changed"})
        assert [(o["gateway_code"], o["status"]) for o in got["gateway_outage.changed"]["outages"]] == [
            ("GW-LIVE", "recovered")
        ]
        assert list(Notification.objects.order_by("id").values_list("recipient__username", "kind")) == [
            ("duty", NotificationKind.GATEWAY_SILENT),
            ("duty", NotificationKind.GATEWAY_HEARD),
        ]

        # Department staff hear nothing of the city's gateways: a ping's pong is the first thing they get.
        staff_ws.send(json.dumps({"type": "ping"}))
        assert json.loads(staff_ws.recv(timeout=10))["type"] == "pong"
    finally:
        duty_ws.close()
        staff_ws.close()
