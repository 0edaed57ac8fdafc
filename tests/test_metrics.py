"""/metrics: who may read it, what it says, and that Prometheus accepts it."""

import ipaddress
import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from citysafety import realtime
from citysafety.heartbeats import heartbeat_record
from citysafety.models import ProcessKind
from dispatch.models import WorkOrder, WorkOrderStatus
from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.factories import SensorFactory, ThresholdRuleFactory
from tests.live import wait_for
from warning.models import Warning
from warning.services import sensors_evaluate

TOKEN = "prometheus-scrape-token-0123456789"


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# --- Who may read ---------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_are_refused_to_everyone_until_a_token_or_a_network_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []

    response = client.get("/metrics", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 403
    assert "METRICS_TOKEN" in response.json()["detail"]


@pytest.mark.django_db
def test_metrics_want_the_bearer_token_and_refuse_a_wrong_one(client, metrics_token):
    missing = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    right = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert wrong.status_code == 403
    assert right.status_code == 200


@pytest.mark.django_db
def test_metrics_are_read_from_an_allowed_network_only(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]

    inside = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    outside = client.get("/metrics", REMOTE_ADDR="192.168.1.9", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert inside.status_code == 200
    assert outside.status_code == 403
    assert outside.json()["detail"] == "此地址无权读取监控指标。"


def test_a_bad_network_in_the_settings_stops_the_process_with_its_name():
    result = subprocess.run(
        [
            ".venv/bin/python",
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='citysafety.settings'; django.setup()",
        ],
        env={"PATH": "/usr/bin:/bin", "METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,not-a-network"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "METRICS_ALLOWED_NETWORKS" in result.stderr
    assert "not-a-network" in result.stderr


# --- What it says -----------------------------------------------------------------


def post_batch(client, gateway, body):
    return client.post(
        "/api/v1/readings/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {gateway.token}",
    )


@pytest.mark.django_db
def test_readings_ingested_and_refused_are_counted_per_gateway(client, gateway, metrics_token):
    sensor = SensorFactory(code="GAS-0001", gateway=gateway)
    now = timezone.now().isoformat()
    post_batch(client, gateway, [{"sensor": sensor.code, "observed_at": now, "value": 1.0}])
    post_batch(
        client,
        gateway,
        [
            {"sensor": sensor.code, "observed_at": (timezone.now() - timedelta(minutes=1)).isoformat(), "value": 2.0},
            {"sensor": "NO-SUCH-SENSOR", "observed_at": now, "value": 1.0},
            {"sensor": sensor.code, "observed_at": now, "value": "high"},
        ],
    )

    metrics = scrape(client)

    assert metrics[("citysafety_readings_ingested_total", (("gateway", "gw-test"),))] == 2
    assert metrics[("citysafety_readings_refused_total", (("gateway", "gw-test"),))] == 2


@pytest.mark.django_db
def test_warnings_opened_per_level_lag_and_overdue_orders(client, gateway, metrics_token, department_a):
    sensor = SensorFactory(code="GAS-0001", gateway=gateway)
    ThresholdRuleFactory(sensor_type=sensor.sensor_type)
    post_batch(client, gateway, [{"sensor": sensor.code, "observed_at": timezone.now().isoformat(), "value": 25.0}])

    before = scrape(client)
    sensors_evaluate(sensor_ids=[sensor.pk])
    after = scrape(client)

    assert before[("citysafety_evaluation_waiting_sensors", ())] == 1
    assert before[("citysafety_evaluation_lag_seconds", ())] >= 0
    assert after[("citysafety_evaluation_waiting_sensors", ())] == 0
    assert after[("citysafety_warnings_opened_total", (("level", "2"),))] == 1
    assert after[("citysafety_warnings_opened_total", (("level", "1"),))] == 0

    order = WorkOrder.objects.filter(warning__sensor=sensor).first() or WorkOrder.objects.create(
        warning=Warning.objects.get(sensor=sensor), department=department_a, level=2, ack_deadline=timezone.now()
    )
    WorkOrder.objects.filter(pk=order.pk).update(is_overdue=True)
    assert scrape(client)[("citysafety_work_orders_overdue", ())] == 1
    WorkOrder.objects.filter(pk=order.pk).update(status=WorkOrderStatus.CLOSED)
    assert scrape(client)[("citysafety_work_orders_overdue", ())] == 0


@pytest.mark.django_db
def test_webhook_deliveries_given_up_count_as_notification_failures(client, metrics_token, department_a):
    endpoint = WebhookEndpoint.objects.create(department=department_a, url="https://hooks.example.org/in")
    for status in (DeliveryStatus.FAILED, DeliveryStatus.FAILED, DeliveryStatus.DELIVERED):
        WebhookDelivery.objects.create(
            endpoint=endpoint, key=f"k-{status}-{timezone.now()}", event="x", payload={}, status=status
        )

    metrics = scrape(client)

    assert metrics[("citysafety_notification_failures_total", (("channel", "webhook"),))] == 2


@pytest.mark.django_db
def test_websocket_clients_are_counted_across_processes_from_the_channel_layer(client, metrics_token):
    layer = get_channel_layer()
    channels = [async_to_sync(layer.new_channel)() for _ in range(3)]
    for number, channel in enumerate(channels):
        async_to_sync(layer.group_add)(realtime.user_group(900 + number % 2), channel)
    try:
        assert scrape(client)[("citysafety_websocket_clients", ())] == 3
        async_to_sync(layer.group_discard)(realtime.user_group(900), channels[0])
        assert scrape(client)[("citysafety_websocket_clients", ())] == 2
    finally:
        for number, channel in enumerate(channels):
            async_to_sync(layer.group_discard)(realtime.user_group(900 + number % 2), channel)


# --- Several processes, and Prometheus's own check ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_batches_spread_over_gunicorns_workers_are_counted_once_for_the_platform(gunicorn_server, gateway):
    sensor = SensorFactory(code="GAS-0001", gateway=gateway)
    url = f"{gunicorn_server.url}/api/v1/readings/"
    for minute in range(12):
        observed = (timezone.now() - timedelta(minutes=minute)).isoformat()
        response = requests.post(
            url,
            json=[{"sensor": sensor.code, "observed_at": observed, "value": 1.0}],
            headers={"Authorization": f"Bearer {gateway.token}", "Connection": "close"},
            timeout=30,
        )
        assert response.status_code == 200, response.text

    # gunicorn_server runs without METRICS_TOKEN: the loopback is allowed there.
    def scraped() -> dict:
        answer = requests.get(f"{gunicorn_server.url}/metrics", timeout=30)
        return samples(answer.text) if answer.status_code == 200 else {}

    # Whichever worker answers, the count is the platform's.
    for _ in range(gunicorn_server.workers * 2):
        metrics = wait_for(scraped, what="/metrics from gunicorn")
        assert metrics[("citysafety_readings_ingested_total", (("gateway", "gw-test"),))] == 12


@pytest.mark.django_db
def test_promtool_accepts_the_metrics(client, gateway, metrics_token, department_a):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make test` installs Debian's prometheus package"
    sensor = SensorFactory(code="GAS-0001", gateway=gateway)
    post_batch(client, gateway, [{"sensor": sensor.code, "observed_at": timezone.now().isoformat(), "value": 1.0}])
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content

    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60, check=False)

    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert b"citysafety_readings_ingested_total" in text


@pytest.mark.django_db
def test_the_grafana_dashboard_reads_only_metrics_the_platform_exports(client, gateway, metrics_token, department_a):
    dashboard = json.loads(
        (Path(__file__).resolve().parent.parent / "deploy/grafana/citysafety-operations.json").read_text()
    )
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bcitysafety_[a-z_]+", target["expr"])
    }
    sensor = SensorFactory(code="GAS-0001", gateway=gateway)
    now = timezone.now().isoformat()
    post_batch(client, gateway, [{"sensor": sensor.code, "observed_at": now, "value": 1.0}, {"sensor": "NONE"}])
    heartbeat_record(kind=ProcessKind.WORKER, name="worker-1")
    exported = {name for name, _labels in scrape(client)}

    assert len(used) >= 9
    assert used <= exported, used - exported
