"""Two real processes evaluating the same sensors at once, while readings arrive."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from dispatch.models import WorkOrder
from monitoring.models import Reading
from monitoring.services import readings_record_stored, sensor_states_lock
from tests.factories import RoutingPolicyFactory, SensorFactory, ThresholdRuleFactory
from tests.live import ROOT, child_env, wait_for
from warning.evaluation import HOLD, NORMAL, classify
from warning.models import Warning, WarningTransition

SCRIPT = Path(__file__).with_name("evaluate_in_process.py")
# One incident pattern: rises through III, II, I, eases, recovers, flares, recovers.
CYCLE = [5.0, 12.0, 25.0, 60.0, 30.0, 2.0, 70.0, 1.0]
CYCLES = 4


def replay(rule, values) -> list[str]:
    """The transitions one process evaluating alone would write."""
    kinds, level, active, opened = [], None, False, False
    for value in values:
        reached = classify(rule, value, in_warning=active)
        if reached == HOLD:
            continue
        if reached == NORMAL:
            if active:
                kinds.append("recovered")
                active = False
            continue
        if not opened:
            kinds.append("opened")
            opened, active, level = True, True, reached
        elif not active:
            kinds.append("reactivated")
            active, level = True, min(level, reached)
        elif reached < level:
            kinds.append("escalated")
            level = reached
    return kinds


@pytest.fixture
def only_these_evaluators():
    """Stored readings are not queued for the session's Celery worker: the
    two processes of the test are the only evaluators."""
    from monitoring.events import readings_stored
    from warning.receivers import enqueue_evaluation

    readings_stored.disconnect(dispatch_uid="warning.enqueue_evaluation")
    yield
    readings_stored.connect(enqueue_evaluation, dispatch_uid="warning.enqueue_evaluation")


@pytest.mark.django_db(transaction=True)
def test_two_processes_never_open_a_second_warning(tmp_path, department_a, only_these_evaluators):
    rule = ThresholdRuleFactory()
    RoutingPolicyFactory(domain=rule.sensor_type.domain, level=3, departments=[department_a])
    sensors = [SensorFactory(sensor_type=rule.sensor_type) for _ in range(4)]
    start_file, stop_file = tmp_path / "go", tmp_path / "stop"
    ids = [str(sensor.pk) for sensor in sensors]
    processes = [
        subprocess.Popen(
            [sys.executable, str(SCRIPT), str(start_file), str(stop_file), *ids],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    start_file.touch()
    # Readings arrive one instant at a time while both processes evaluate.
    start = timezone.now() - timedelta(minutes=30)
    values = CYCLE * CYCLES
    for i, value in enumerate(values):
        readings_record_stored(
            readings=Reading.objects.bulk_create(
                Reading(sensor=sensor, observed_at=start + timedelta(seconds=i), value=value) for sensor in sensors
            )
        )
    stop_file.touch()
    outputs = [process.communicate(timeout=120)[0] for process in processes]

    assert [process.returncode for process in processes] == [0, 0], outputs
    expected = replay(rule, values)
    assert expected[:3] == ["opened", "escalated", "escalated"]
    total = sum(int(out.strip().rsplit("transitions=", 1)[1]) for out in outputs)
    assert total == len(sensors) * len(expected)
    for sensor in sensors:
        warnings = list(Warning.objects.filter(sensor=sensor))
        assert len(warnings) == 1
        kinds = list(WarningTransition.objects.filter(warning=warnings[0]).values_list("kind", flat=True))
        assert kinds == expected
        assert WorkOrder.objects.filter(warning=warnings[0]).count() == 1


def blocked_by_us() -> bool:
    """Some other backend of this database waits for a lock this one holds."""
    with connection.cursor() as cursor:
        # Statistics views are a snapshot per transaction unless cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_evaluation_of_a_sensor_waits_while_its_readings_are_being_stored(tmp_path, only_these_evaluators):
    """The sensor's state row is the lock: ingestion holds it until it commits,
    so an evaluator can never move the watermark past a reading not yet visible."""
    rule = ThresholdRuleFactory()
    # A sensor that has reported before: its state row exists (a first
    # reading's row is invisible to the evaluator until it commits anyway).
    sensor = SensorFactory(sensor_type=rule.sensor_type, latest_value=1.0)
    # It already waits for evaluation (marked by an earlier batch): an
    # evaluator skips a sensor with nothing marked rather than wait for it.
    # (No drain is queued: the session's worker must not clear the mark.)
    readings_record_stored(
        readings=[Reading.objects.create(sensor=sensor, observed_at=timezone.now() - timedelta(minutes=2), value=5.0)]
    )
    (tmp_path / "go").touch()
    (tmp_path / "stop").touch()

    with transaction.atomic():
        # What ingestion does: lock the sensor, then insert its readings.
        with connection.cursor() as cursor:
            sensor_states_lock(cursor, [sensor.pk])
        reading = Reading.objects.create(sensor=sensor, observed_at=timezone.now() - timedelta(minutes=1), value=30.0)
        readings_record_stored(readings=[reading])
        other = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(tmp_path / "go"), str(tmp_path / "stop"), str(sensor.pk)],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for(blocked_by_us, timeout=60, what="the evaluator to wait for the sensor's lock")
        assert other.poll() is None

    output = other.communicate(timeout=60)[0]
    assert other.returncode == 0, output
    assert "transitions=1" in output
    assert Warning.objects.get(sensor=sensor).level == 2


@pytest.mark.django_db(transaction=True)
def test_an_evaluator_passes_over_a_sensor_with_nothing_to_evaluate_without_waiting(tmp_path, only_these_evaluators):
    """A drain never queues behind ingestion for a sensor that has nothing
    marked yet: the batch marks it when it commits, and it is queued then."""
    rule = ThresholdRuleFactory()
    sensor = SensorFactory(sensor_type=rule.sensor_type, latest_value=1.0)
    (tmp_path / "go").touch()
    (tmp_path / "stop").touch()

    with transaction.atomic():
        with connection.cursor() as cursor:
            sensor_states_lock(cursor, [sensor.pk])
        other = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(tmp_path / "go"), str(tmp_path / "stop"), str(sensor.pk)],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # It finishes while this transaction still holds the sensor's lock.
        output = other.communicate(timeout=60)[0]

    assert other.returncode == 0, output
    assert "transitions=0" in output
