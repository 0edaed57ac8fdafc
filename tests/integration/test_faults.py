"""Faults from outside: the broker away, the database away."""

import json
import socket
import subprocess
import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from citysafety.celery import app as celery_app
from monitoring.models import Reading
from tests.factories import SensorFactory, ThresholdRuleFactory
from tests.live import ROOT, VENV_BIN, child_env, free_port, wait_for
from warning.models import Warning
from warning.tasks import evaluate_pending_sensors


@pytest.fixture
def broker_down():
    """Point this process's Celery at a port where nothing listens."""
    previous = celery_app.conf.broker_url
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    celery_app.conf.broker_url = f"redis://127.0.0.1:{dead_port}/0"
    reset_connections()
    yield
    celery_app.conf.broker_url = previous
    reset_connections()


def reset_connections() -> None:
    """Make the next publish look up the connection pool of the current URL.

    Not ``force_close_all``: kombu keeps one pool per URL for the process,
    and a closed one would be handed back when the URL is restored.
    """
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_readings_are_stored_and_evaluated_later(client, gateway, broker_down):
    rule = ThresholdRuleFactory()
    sensor = SensorFactory(sensor_type=rule.sensor_type, gateway=gateway)
    body = [{"sensor": sensor.code, "observed_at": (timezone.now() - timedelta(seconds=5)).isoformat(), "value": 30.0}]

    started = time.monotonic()
    response = client.post(
        "/api/v1/readings/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {gateway.token}",
    )
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert elapsed < 10, f"the gateway waited {elapsed:.1f} s for a broker that is away"
    assert Reading.objects.filter(sensor=sensor).count() == 1
    assert not Warning.objects.exists()

    # The broker is back: the periodic sweep evaluates what no task did.
    assert evaluate_pending_sensors() == 1
    assert Warning.objects.get(sensor=sensor).level == 2


def test_with_the_database_down_the_api_answers_503():
    env = child_env()
    env["DATABASE_URL"] = f"postgis://postgres@127.0.0.1:{free_port()}/nothing"
    env["DB_CONNECT_TIMEOUT"] = "2"
    port = free_port()
    daphne = subprocess.Popen(
        [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "citysafety.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def up() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_for(up, timeout=60, what="daphne")
        body = [{"sensor": "GAS-0001", "observed_at": timezone.now().isoformat(), "value": 1.0}]
        ingest = requests.post(
            f"http://127.0.0.1:{port}/api/v1/readings/",
            json=body,
            headers={"Authorization": "Bearer some-token", "Accept-Language": "en"},
            timeout=20,
        )
        assert ingest.status_code == 503
        assert "database is unavailable" in ingest.json()["detail"]
        assert ingest.headers["Retry-After"] == "30"
        # A person's request touches the database to load the session.
        listing = requests.get(f"http://127.0.0.1:{port}/api/v1/warnings/", cookies={"sessionid": "x" * 32}, timeout=20)
        assert listing.status_code == 503
    finally:
        daphne.terminate()
        daphne.wait(timeout=10)
