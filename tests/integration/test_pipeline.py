"""The real stack: gunicorn, daphne, a Celery worker, Redis, websockets.

A batch posted by a gateway is stored, evaluated by the worker process,
routed, and pushed over websockets to the people who may see it. Gateways
post to the API server (gunicorn); daphne, which serves the sockets,
answers the same API and takes the batches of the socket tests.
"""

import json
import time
from datetime import timedelta

import pytest
import redis
import requests
from django.test import Client
from django.utils import timezone
from websockets.sync.client import ClientConnection, connect

from dispatch.models import WorkOrder
from monitoring.models import Reading
from tests.live import redis_url_for_tests, wait_for
from warning.models import Warning

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def city(department_a, department_b, gateway):
    """Gas sensor owned by department A, water sensor owned by B, one gateway."""
    from tests.factories import (
        RiskDomainFactory,
        RoutingPolicyFactory,
        SensorFactory,
        SensorTypeFactory,
        ThresholdRuleFactory,
    )

    gas = RiskDomainFactory(code="gas")
    water = RiskDomainFactory(code="water_supply", name="Water")
    methane = SensorTypeFactory(code="methane", domain=gas)
    pressure = SensorTypeFactory(code="pressure", domain=water, unit="MPa")
    ThresholdRuleFactory(sensor_type=methane)
    ThresholdRuleFactory(
        sensor_type=pressure, direction="below", level3_threshold=0.2, level2_threshold=0.16, level1_threshold=0.12
    )
    for domain in (gas, water):
        RoutingPolicyFactory(domain=domain, level=3, include_sensor_owner=True)
    return {
        "gas": SensorFactory(code="GAS-0001", sensor_type=methane, owner_department=department_a, gateway=gateway),
        "water": SensorFactory(code="WATER-0001", sensor_type=pressure, owner_department=department_b, gateway=gateway),
    }


def post_readings(server, gateway, items) -> requests.Response:
    return requests.post(
        f"{server.url}/api/v1/readings/",
        json=items,
        headers={"Authorization": f"Bearer {gateway.token}"},
        timeout=10,
    )


def socket_for(server, user) -> ClientConnection:
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    ws = connect(
        f"ws://{server.host}:{server.port}/ws/live/",
        additional_headers={"Cookie": f"sessionid={session}"},
        origin=f"http://{server.host}:{server.port}",
        open_timeout=10,
    )
    hello = json.loads(ws.recv(timeout=10))
    assert hello["type"] == "hello"
    return ws


# Notifications each socket received and next_message passed over, by socket.
NOTIFICATIONS: dict[int, list[dict]] = {}


def next_message(ws: ClientConnection, timeout: float = 10.0) -> dict:
    """The next message of the feed, past the person's own notifications (kept in NOTIFICATIONS):
    who is told depends on the roster (tests/notifications, tests/dispatch/test_escalation.py)."""
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message.get("type") != "notification.created":
            return message
        NOTIFICATIONS.setdefault(id(ws), []).append(message)


def test_a_batch_posted_to_the_api_server_becomes_a_warning_and_a_work_order(
    gunicorn_server, celery_worker_process, city, gateway
):
    now = timezone.now()
    response = post_readings(
        gunicorn_server,
        gateway,
        [
            {"sensor": "GAS-0001", "observed_at": (now - timedelta(seconds=20)).isoformat(), "value": 3.0},
            {"sensor": "GAS-0001", "observed_at": (now - timedelta(seconds=10)).isoformat(), "value": 62.0},
        ],
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2

    warning = wait_for(lambda: Warning.objects.filter(sensor=city["gas"]).first(), timeout=20, what="the warning")
    assert warning.level == 1
    order = wait_for(lambda: WorkOrder.objects.filter(warning=warning).first(), timeout=5, what="the work order")
    assert order.department.code == "gas-company"
    assert Reading.objects.filter(sensor=city["gas"]).count() == 2


def test_pushes_reach_only_those_who_may_see_them(
    daphne_server, celery_worker_process, city, gateway, duty_officer, staff_a, staff_b
):
    duty_ws, a_ws, b_ws = (socket_for(daphne_server, user) for user in (duty_officer, staff_a, staff_b))
    try:
        now = timezone.now()
        post_readings(daphne_server, gateway, [{"sensor": "GAS-0001", "observed_at": now.isoformat(), "value": 30.0}])

        # The duty officer hears the warning and the gas company's order.
        duty_types = {next_message(duty_ws)["type"], next_message(duty_ws)["type"]}
        assert duty_types == {"warning.changed", "work_order.changed"}
        # Department A hears its own order, and nothing about the warning list.
        a_message = next_message(a_ws)
        assert a_message["type"] == "work_order.changed"
        assert a_message["work_order"]["department"]["code"] == "gas-company"
        assert a_message["work_order"]["warning"]["sensor"]["code"] == "GAS-0001"

        # Now an event of B's own: if anything of A's had been pushed to B it
        # would arrive first, since one channel's messages keep their order.
        post_readings(daphne_server, gateway, [{"sensor": "WATER-0001", "observed_at": now.isoformat(), "value": 0.1}])
        b_message = next_message(b_ws)
        assert b_message["type"] == "work_order.changed"
        assert b_message["work_order"]["department"]["code"] == "water-company"
        assert "GAS-0001" not in json.dumps(b_message)
        assert "GAS-0001" not in json.dumps(NOTIFICATIONS.get(id(b_ws), []))

        # The same order acknowledged by A reaches A and the duty officer, not B.
        order = WorkOrder.objects.get(department__code="gas-company")
        client = Client()
        client.force_login(staff_a)
        # Through daphne, so the push comes from the web process after commit.
        session = client.cookies["sessionid"].value
        http = requests.Session()
        http.cookies.set("sessionid", session)
        csrf = http.get(f"{daphne_server.url}/login/", timeout=10).cookies.get("csrftoken")
        acknowledged = http.post(
            f"{daphne_server.url}/api/v1/work-orders/{order.pk}/acknowledge/",
            json={"note": "On site"},
            headers={"X-CSRFToken": csrf, "Referer": daphne_server.url},
            timeout=10,
        )
        assert acknowledged.status_code == 200, acknowledged.text
        assert next_message(a_ws)["work_order"]["status"] == "acknowledged"
        b_ws.send(json.dumps({"type": "ping"}))
        assert next_message(b_ws)["type"] == "pong"
    finally:
        for ws in (duty_ws, a_ws, b_ws):
            ws.close()


def test_an_anonymous_socket_is_closed_as_signed_out(daphne_server):
    from websockets.exceptions import ConnectionClosed

    with (
        connect(
            f"ws://{daphne_server.host}:{daphne_server.port}/ws/live/", origin=daphne_server.url, open_timeout=10
        ) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=10)
    assert closed.value.rcvd.code == 4401


def test_a_person_moved_to_another_department_stops_hearing_the_old_one(
    daphne_server, celery_worker_process, city, gateway, staff_a, department_b
):
    from organisation.models import Membership

    ws = socket_for(daphne_server, staff_a)
    try:
        Membership.objects.filter(user=staff_a).update(department=department_b)
        now = timezone.now()
        # The gas company's order (staff_a's old department), then the water company's.
        post_readings(daphne_server, gateway, [{"sensor": "GAS-0001", "observed_at": now.isoformat(), "value": 30.0}])
        wait_for(lambda: WorkOrder.objects.filter(department__code="gas-company").exists(), timeout=20)
        # Handling that push, the socket looked its rights up again and moved
        # to department B's group: wait for it there before B's event.
        groups = redis.Redis.from_url(redis_url_for_tests())
        wait_for(
            lambda: groups.zcard(f"asgi:group:department.{department_b.pk}") > 0,
            timeout=20,
            what="the socket to join its new department's group",
        )
        post_readings(daphne_server, gateway, [{"sensor": "WATER-0001", "observed_at": now.isoformat(), "value": 0.1}])

        message = next_message(ws)
        assert message["work_order"]["department"]["code"] == "water-company"
    finally:
        ws.close()
