"""Readings over MQTT through a real Mosquitto broker and the bridge process."""

import getpass
import json
import os
import queue
import re
import shutil
import socket
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import connection
from django.utils import timezone

from monitoring.models import Gateway, Reading
from tests.factories import SensorFactory
from tests.live import VENV_BIN, Process, free_port, start, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


# A topic space of this run's own: another bridge on the same broker (a
# developer's ``make run``) must neither answer nor eat these messages.
PREFIX = f"tests-{uuid.uuid4().hex[:8]}/gateways"


def start_bridge(
    name: str, *, client_id: str, group: str | None = None, url: str | None = None, workers: int = 4
) -> Process:
    """A bridge process, returned once its subscription is in place.

    Each bridge has a share group of its own unless told: the broker keeps a
    stopped bridge's session, and with it its turn in the group, so an
    earlier test's bridge would be handed some of a later test's messages.
    For the same reason a client id serves one test only: its session would
    bring the earlier test's subscription along.
    """
    command = [str(VENV_BIN / "python"), "manage.py", "mqtt_bridge", "--client-id", client_id]
    command += ["--workers", str(workers), *(["--url", url] if url else [])]
    env = {
        "MQTT_TOPIC_PREFIX": PREFIX,
        "MQTT_SHARE_GROUP": group or uuid.uuid4().hex,
        # The test's topics die with it: the broker need not keep what it
        # queues for this bridge for a day.
        "MQTT_SESSION_EXPIRY_SECONDS": "120",
    }
    process = start(name, command, env=env)
    wait_for(lambda: "listening on" in process.output() or process.popen.poll() is not None, timeout=30, what=name)
    assert process.popen.poll() is None, process.output()
    return process


@pytest.fixture
def bridge():
    process = start_bridge("mqtt-bridge", client_id=f"bridge-{uuid.uuid4().hex}")
    yield process
    process.stop()


def gateway_client(url: str | None = None) -> mqtt.Client:
    """A gateway's connection that collects the replies to this run's topics in ``.replies``."""
    parts = urlsplit(url or settings.MQTT_URL)
    replies: queue.Queue = queue.Queue()
    # A client id of its own: the broker disconnects a client when another
    # connects under its id, and other test runs share the machine's broker.
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gateway-{uuid.uuid4().hex}")
    client.on_message = lambda c, u, message: replies.put((message.topic, json.loads(message.payload)))
    client.connect(parts.hostname, parts.port or 1883)
    client.subscribe(f"{PREFIX}/+/results", qos=1)
    client.loop_start()
    client.replies = replies
    return client


@pytest.fixture
def mqtt_client():
    client = gateway_client()
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


# --- Under load: workers, several bridges, QoS 1 end to end -----------------


def readings_topic(code: str) -> str:
    return f"{PREFIX}/{code}/readings"


def batch(gateway, sensor, number: int, size: int = 5) -> bytes:
    """Message ``number``: ``size`` readings of ``sensor``, at times no other message uses."""
    start = timezone.now() - timedelta(hours=1) + timedelta(seconds=number * size)
    readings = [
        {"sensor": sensor.code, "observed_at": (start + timedelta(seconds=n)).isoformat(), "value": float(n)}
        for n in range(size)
    ]
    return json.dumps({"token": gateway.token, "readings": readings}).encode()


def publish_all(client, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 and return once the broker has acknowledged every message."""
    sent = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in sent:
        info.wait_for_publish(timeout=30)
        assert info.is_published()


def handled_by(process: Process) -> int:
    return len(re.findall(r" -> 200 ", process.output()))


@contextmanager
def readings_locked():
    """Hold, in a connection of its own, a lock that every insert of readings waits for."""
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"LOCK TABLE {Reading._meta.db_table} IN SHARE MODE")
            try:
                yield
            finally:
                cursor.execute("ROLLBACK")
    finally:
        other.close()


def backends_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@dataclass
class PrivateBroker:
    """A Mosquitto of the test's own, with persistence on, that the test may
    stop and start again: the machine's broker is never restarted."""

    directory: Path
    port: int
    starts: int = 0
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.directory / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # Started as root, Mosquitto would switch to its own user, who
            # may not write in the test's directory.
            f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {self.directory}/\n"
            "autosave_interval 1\n"
            "log_dest stdout\n"
        )
        self.starts += 1
        binary = shutil.which("mosquitto", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
        assert binary, "Mosquitto is not installed: `make test` installs it"
        self.process = start(f"mosquitto-{self.starts}", [binary, "-c", str(config)])

        def listening() -> bool:
            assert self.process.popen.poll() is None, self.process.output()
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listening, timeout=10, what="private mosquitto")

    def restart(self) -> None:
        # SIGTERM: Mosquitto saves its sessions and queued messages on the way out.
        self.process.stop()
        assert self.process.popen.returncode == 0, self.process.output()
        self.start()


@pytest.fixture
def private_broker(tmp_path):
    broker = PrivateBroker(tmp_path, free_port())
    broker.start()
    yield broker
    broker.process.stop()


def test_two_bridges_share_the_topic_and_handle_each_message_once(mqtt_client, gateway):
    sensors = [SensorFactory(code=f"GAS-{n:04}", gateway=gateway) for n in range(10)]
    group = uuid.uuid4().hex
    bridges = [start_bridge(f"mqtt-bridge-{n}", client_id=f"bridge-{n}-{PREFIX}", group=group) for n in (1, 2)]
    try:
        publish_all(
            mqtt_client,
            [(readings_topic(gateway.code), batch(gateway, sensors[n % 10], n)) for n in range(200)],
        )
        replies = [mqtt_client.replies.get(timeout=60)[1] for _ in range(200)]
    finally:
        for process in bridges:
            process.stop()

    assert replies == [{"status": 200, "accepted": 5, "duplicates": 0, "errors": []}] * 200
    assert Reading.objects.count() == 1000
    assert mqtt_client.replies.empty()
    handled = [handled_by(process) for process in bridges]
    assert sum(handled) == 200
    assert min(handled) > 0, handled


def test_a_bridge_taking_over_a_session_from_before_sharing_handles_each_message_once(mqtt_client, gateway):
    sensor = SensorFactory(code="GAS-0001", gateway=gateway)
    client_id = f"bridge-{uuid.uuid4().hex}"
    # The bridge as it was: MQTT 3.1.1, a persistent session, the plain subscription.
    subscribed = queue.Queue()
    earlier = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    earlier.on_subscribe = lambda *args: subscribed.put(True)
    parts = urlsplit(settings.MQTT_URL)
    earlier.connect(parts.hostname, parts.port or 1883)
    earlier.loop_start()
    earlier.subscribe(f"{PREFIX}/+/readings", qos=1)
    subscribed.get(timeout=10)
    earlier.disconnect()
    earlier.loop_stop()
    publish_all(mqtt_client, [(readings_topic(gateway.code), batch(gateway, sensor, 0))])

    bridge = start_bridge("mqtt-bridge", client_id=client_id)
    try:
        waited = mqtt_client.replies.get(timeout=30)[1]
        publish_all(mqtt_client, [(readings_topic(gateway.code), batch(gateway, sensor, 1))])
        published_now = mqtt_client.replies.get(timeout=30)[1]
    finally:
        bridge.stop()

    assert waited == published_now == {"status": 200, "accepted": 5, "duplicates": 0, "errors": []}
    assert handled_by(bridge) == 2
    assert Reading.objects.count() == 10


def test_the_bridge_ingests_several_messages_at_once(bridge, mqtt_client, gateway):
    sensors = [SensorFactory(code=f"GAS-{n:04}", gateway=gateway) for n in range(6)]

    with readings_locked():
        publish_all(mqtt_client, [(readings_topic(gateway.code), batch(gateway, sensor, 0)) for sensor in sensors])
        # One message at a time, a single insert would wait for the lock; the
        # bridge's four workers make four.
        wait_for(lambda: backends_waiting_for_a_lock() >= 4, timeout=30, what="four messages in progress at once")

    replies = [mqtt_client.replies.get(timeout=30)[1] for _ in sensors]
    assert [reply["accepted"] for reply in replies] == [5] * 6
    assert Reading.objects.count() == 30


def test_messages_the_broker_acknowledged_survive_its_restart(private_broker, gateway):
    sensor = SensorFactory(code="GAS-0001", gateway=gateway)
    client_id, group = f"bridge-{PREFIX}", uuid.uuid4().hex
    # The bridge subscribes, then goes away; the broker keeps its session.
    start_bridge("mqtt-bridge", client_id=client_id, group=group, url=private_broker.url).stop()
    gateway_device = gateway_client(private_broker.url)
    publish_all(gateway_device, [(readings_topic(gateway.code), batch(gateway, sensor, n)) for n in range(50)])
    gateway_device.loop_stop()
    gateway_device.disconnect()

    private_broker.restart()
    bridge = start_bridge("mqtt-bridge-again", client_id=client_id, group=group, url=private_broker.url)
    try:
        wait_for(lambda: Reading.objects.count() >= 250, timeout=60, what="the 250 readings")
    finally:
        bridge.stop()

    assert Reading.objects.filter(sensor=sensor).count() == 250


def test_a_bridge_rides_out_a_broker_restart_with_messages_in_progress(private_broker, gateway):
    sensors = [SensorFactory(code=f"GAS-{n:04}", gateway=gateway) for n in range(8)]
    bridge = start_bridge("mqtt-bridge", client_id=f"bridge-{PREFIX}", url=private_broker.url)
    gateway_device = gateway_client(private_broker.url)
    try:
        with readings_locked():
            publish_all(
                gateway_device, [(readings_topic(gateway.code), batch(gateway, sensor, 0)) for sensor in sensors]
            )
            wait_for(lambda: backends_waiting_for_a_lock() >= 4, timeout=30, what="messages in progress")
            private_broker.restart()
            wait_for(lambda: bridge.output().count("listening on") == 2, timeout=30, what="the bridge to reconnect")

        wait_for(lambda: Reading.objects.count() >= 40, timeout=60, what="the 40 readings")
        # Those it was working on are answered, those it had not started come again.
        wait_for(lambda: handled_by(bridge) >= 8, timeout=30, what="every message answered")
    finally:
        bridge.stop()
        gateway_device.loop_stop()
        gateway_device.disconnect()

    assert Reading.objects.count() == 40
    assert "Traceback" not in bridge.output()


def test_a_bridge_killed_with_messages_in_flight_loses_nothing_once_restarted(private_broker, gateway):
    sensors = [SensorFactory(code=f"GAS-{n:04}", gateway=gateway) for n in range(8)]
    client_id, group = f"bridge-{PREFIX}", uuid.uuid4().hex
    bridge = start_bridge("mqtt-bridge", client_id=client_id, group=group, url=private_broker.url)
    gateway_device = gateway_client(private_broker.url)

    with readings_locked():
        publish_all(gateway_device, [(readings_topic(gateway.code), batch(gateway, sensor, 0)) for sensor in sensors])
        wait_for(lambda: backends_waiting_for_a_lock() >= 4, timeout=30, what="messages in progress")
        bridge.popen.kill()
        bridge.popen.wait(timeout=10)

    again = start_bridge("mqtt-bridge-again", client_id=client_id, group=group, url=private_broker.url)
    try:
        replies = [gateway_device.replies.get(timeout=60)[1] for _ in sensors]
    finally:
        again.stop()
        gateway_device.loop_stop()
        gateway_device.disconnect()

    assert [reply["status"] for reply in replies] == [200] * 8
    assert sum(reply["accepted"] + reply["duplicates"] for reply in replies) == 40
    assert Reading.objects.count() == 40
