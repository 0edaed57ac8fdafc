"""The demo end to end: a simulated gas leak through the real API, worker and dispatch."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import requests

from citysafety.celery import app as celery_app
from demo.loading import load_demo_city
from demo.simulator import IncidentKind, Poster, Simulation, demo_sensors, issue_tokens, run_rounds
from dispatch.models import WorkOrder
from monitoring.models import Reading, Sensor
from tests.live import wait_for
from warning.models import TransitionKind, Warning, WarningStatus
from warning.selectors import sensors_with_unevaluated_readings


@pytest.fixture
def leave_the_queue_empty(celery_worker_process):
    """Drop the evaluation tasks still queued when the test ends.

    Each of the thirteen batches enqueues one; the first evaluation covers
    the readings of the later ones, and their rows are flushed with the
    test. Left queued, they would sit ahead of the next test's tasks in
    the shared worker (whose thread pool acknowledges late and slowly:
    celery/celery#6941).
    """
    yield
    celery_app.control.purge()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("leave_the_queue_empty")
def test_a_simulated_gas_leak_becomes_a_level_i_warning_routed_the_hefei_way(daphne_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    load_demo_city()
    # Twenty of the gas company's sensors: one to leak, quiet neighbours that
    # must stay quiet, and few enough readings for a quick evaluation.
    simulation = Simulation(demo_sensors(["gw-gas"])[:20], rng=random.Random(11))
    # Rounds ten seconds apart, starting five minutes ago: recent readings,
    # none in the future, and no waiting.
    now = [datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)]
    incident = simulation.start_incident(IncidentKind.GAS_LEAK, now[0])
    lines: list[str] = []

    def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    with requests.Session() as session:
        rounds = run_rounds(
            simulation,
            Poster(session, daphne_server.url, issue_tokens(["gw-gas"])),
            clock=lambda: now[0],
            sleep=sleep,
            interval=10,
            write=lines.append,
            until_idle=True,
        )

    sensors = len(simulation.sensors)
    assert all(f"accepted {sensors}, duplicates 0, errors 0" in line for line in lines if line.startswith("round")), (
        lines
    )
    assert Reading.objects.count() == rounds * sensors
    # Every reading evaluated, not just the incident's: the assertions below
    # cover the quiet sensors too, and the worker is idle when the test ends.
    wait_for(lambda: not sensors_with_unevaluated_readings(), timeout=60, what="the worker to evaluate every reading")
    sensor = Sensor.objects.select_related("district").get(code=incident.sensor.code)
    warning = Warning.objects.get(sensor=sensor)
    assert warning.status == WarningStatus.RECOVERED
    assert warning.level == 1
    assert list(warning.transitions.values_list("kind", "to_level")) == [
        (TransitionKind.OPENED, 3),
        (TransitionKind.ESCALATED, 2),
        (TransitionKind.ESCALATED, 1),
        (TransitionKind.RECOVERED, 1),
    ]
    # Routed as the leak worsened; every order now carries the warning's level.
    orders = WorkOrder.objects.filter(warning=warning).prefetch_related("events")
    routed = {o.department.code: (o.level, [e.kind for e in o.events.all()]) for o in orders}
    assert routed == {
        "gas-company": (1, ["created", "escalated", "escalated"]),
        "housing-bureau": (1, ["created", "escalated"]),
        f"gov-{sensor.district.code}": (1, ["created", "escalated"]),
        "command-office": (1, ["created"]),
    }
    assert Warning.objects.count() == 1
