"""Readings over MQTT through a real Mosquitto broker and the bridge process."""

import json
import queue
import re
import uuid
from datetime import timedelta

import paho.mqtt.client as mqtt
import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.utils import timezone

from monitoring.models import Gateway, Reading
from tests.factories import SensorFactory
from tests.live import VENV_BIN, start, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


# A topic space of this run's own: another bridge on the same broker (a
# developer's ``make run``) must neither answer nor eat these messages.
PREFIX = f"tests-{uuid.uuid4().hex[:8]}/gateways"


@pytest.fixture
def bridge():
    process = start(
        "mqtt-bridge",
        [str(VENV_BIN / "python"), "manage.py", "mqtt_bridge", "--client-id", f"bridge-{PREFIX}"],
        env={"MQTT_TOPIC_PREFIX": PREFIX},
    )
    wait_for(
        lambda: "listening on" in process.output() or process.popen.poll() is not None, timeout=30, what="mqtt bridge"
    )
    assert process.popen.poll() is None, process.output()
    yield process
    process.stop()


@pytest.fixture
def mqtt_client():
    from urllib.parse import urlsplit

    parts = urlsplit(settings.MQTT_URL)
    replies: queue.Queue = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gateway-tests")
    client.on_message = lambda c, u, message: replies.put((message.topic, json.loads(message.payload)))
    client.connect(parts.hostname, parts.port or 1883)
    client.subscribe(f"{PREFIX}/+/results", qos=1)
    client.loop_start()
    client.replies = replies
    yield client
    client.loop_stop()
    client.disconnect()


def publish(client, code: str, payload) -> dict:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    client.publish(f"{PREFIX}/{code}/readings", data, qos=1).wait_for_publish(timeout=10)
    topic, body = client.replies.get(timeout=15)
    assert topic == f"{PREFIX}/{code}/results"
    return body


def test_a_batch_published_over_mqtt_is_stored(bridge, mqtt_client, gateway):
    sensor = SensorFactory(code="GAS-0001", gateway=gateway)
    when = (timezone.now() - timedelta(seconds=5)).isoformat()

    reply = publish(
        mqtt_client,
        gateway.code,
        {"token": gateway.token, "readings": [{"sensor": "GAS-0001", "observed_at": when, "value": 4.2}]},
    )

    assert reply == {"status": 200, "accepted": 1, "duplicates": 0, "errors": []}
    assert Reading.objects.get(sensor=sensor).value == 4.2


def test_bad_mqtt_messages_get_specific_replies_and_keep_the_valid_readings(bridge, mqtt_client, gateway):
    SensorFactory(code="GAS-0001", gateway=gateway)
    when = (timezone.now() - timedelta(seconds=5)).isoformat()

    assert publish(mqtt_client, gateway.code, b"{not json")["status"] == 400
    # Nested past Python's recursion limit, and no token: refused, the bridge lives on.
    assert publish(mqtt_client, gateway.code, b"[" * 100_000 + b"]" * 100_000)["status"] == 400
    assert publish(mqtt_client, gateway.code, {"readings": []})["status"] == 401
    assert publish(mqtt_client, gateway.code, {"token": "wrong", "readings": []})["status"] == 401
    assert publish(mqtt_client, "another-gw", {"token": gateway.token, "readings": []})["status"] == 401
    assert (
        "must be a JSON array" in publish(mqtt_client, gateway.code, {"token": gateway.token, "readings": {}})["detail"]
    )
    mixed = (
        f'{{"token": "{gateway.token}", "readings": ['
        f'{{"sensor": "GAS-0001", "observed_at": "{when}", "value": NaN}},'
        f'{{"sensor": "GAS-0001", "observed_at": "{when}", "value": 3.5}}]}}'
    ).encode()
    reply = publish(mqtt_client, gateway.code, mixed)
    assert reply["status"] == 422
    assert reply["accepted"] == 1
    assert reply["errors"][0]["index"] == 0
    assert "finite" in reply["errors"][0]["message"]
    assert Reading.objects.get().value == 3.5
    assert bridge.popen.poll() is None


def test_a_gateway_added_in_the_admin_publishes_with_the_token_it_was_shown(bridge, mqtt_client, admin_client):
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    added = admin_client.post(
        "/admin/monitoring/gateway/add/", {"code": "gw-east", "name": "East gateway", "is_active": "on"}, follow=True
    )
    (token,) = [
        m["token"]
        for m in (
            re.search(r"gateway gw-east: (?P<token>[\w-]+) —", str(message))
            for message in get_messages(added.wsgi_request)
        )
        if m
    ]
    sensor = SensorFactory(code="GAS-0001", gateway=Gateway.objects.get(code="gw-east"))
    when = (timezone.now() - timedelta(seconds=5)).isoformat()

    reply = publish(
        mqtt_client,
        "gw-east",
        {"token": token, "readings": [{"sensor": "GAS-0001", "observed_at": when, "value": 2.5}]},
    )

    assert reply == {"status": 200, "accepted": 1, "duplicates": 0, "errors": []}
    assert Reading.objects.get(sensor=sensor).value == 2.5
