"""Rule kinds evaluated by real Celery worker processes.

A duration's progress lives in the database: a worker killed with SIGKILL in
the middle of a window loses nothing, and the next worker opens the warning
at the right reading, once. A rule changed in admin applies to the next
reading the running worker evaluates.

These workers consume a queue of their own, fed explicitly with the
periodic sweep's task (what beat sends), so the session's worker, if one
runs, never takes their work.
"""

import os
import re
import signal
import subprocess
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, ThresholdRuleFactory
from tests.live import ARTIFACTS, ROOT, VENV_BIN, child_env, use_test_redis, wait_for
from warning.models import RuleState, TransitionKind, Warning

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "rule-kinds-tests"
SWEEP_DONE = re.compile(r"evaluate_pending_sensors\[[^\]]+\] succeeded")


class Worker:
    """One solo-pool worker in a process group of its own, so SIGKILL leaves no child behind."""

    def __init__(self, name: str):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log = ARTIFACTS / f"{name}.log"
        self.popen = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "citysafety",
                "worker",
                "--pool=solo",
                "-Q",
                QUEUE,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--hostname={name}@%h",
            ],
            cwd=ROOT,
            env=child_env(),
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: "ready." in self.output() or self.popen.poll() is not None, timeout=60, what=name)
        if self.popen.poll() is not None:
            pytest.fail(f"{name} died:\n{self.output()[-3000:]}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers():
    """Start workers by name; every one is stopped at the end. Readings are
    not queued for any other worker meanwhile."""
    from monitoring.events import readings_stored
    from warning import evaluation_queue
    from warning.receivers import enqueue_evaluation

    use_test_redis()
    evaluation_queue.forget()
    # A sweep an earlier test sent and no worker took would be this test's
    # first task: the tests count the sweeps their worker finished.
    purge_queue()
    readings_stored.disconnect(dispatch_uid="warning.enqueue_evaluation")
    started: list[Worker] = []

    def start(name: str) -> Worker:
        worker = Worker(name)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    purge_queue()
    readings_stored.connect(enqueue_evaluation, dispatch_uid="warning.enqueue_evaluation")


def purge_queue() -> None:
    from citysafety.celery import app

    with app.connection_for_write() as connection_:
        connection_.default_channel.queue_purge(QUEUE)


def sweep() -> None:
    """What beat sends every half minute: evaluate every sensor with unevaluated readings."""
    from warning.tasks import evaluate_pending_sensors

    evaluate_pending_sensors.apply_async(queue=QUEUE)


def store(sensor, observed_at, value) -> None:
    readings_record_stored(
        readings=Reading.objects.bulk_create([Reading(sensor=sensor, observed_at=observed_at, value=value)])
    )


def run_length(state_id: int) -> int:
    progress = RuleState.objects.get(pk=state_id).hold_progress or {}
    return (progress.get("3") or {}).get("count", 0)


def test_a_worker_killed_mid_window_loses_nothing_and_the_next_opens_the_warning_once(workers):
    rule = ThresholdRuleFactory(hold_readings=5)
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    start = timezone.now() - timedelta(minutes=10)
    times = [start + timedelta(seconds=10 * i) for i in range(5)]
    values = [12.0, 13.5, 12.2, 14.0, 12.8]  # noisy, every one past Level III (10)

    first = workers("rules-first")
    for i in range(2):
        store(sensor, times[i], values[i])
        sweep()
        wait_for(
            lambda i=i: RuleState.objects.filter(rule=rule, sensor=sensor).exists()
            and run_length(RuleState.objects.get(rule=rule, sensor=sensor).pk) == i + 1,
            timeout=30,
            what=f"reading {i + 1} counted",
        )
    state_id = RuleState.objects.get(rule=rule, sensor=sensor).pk

    # Reading 3: hold the state row so the worker blocks inside its
    # transaction, after counting the reading and before committing; kill it there.
    store(sensor, times[2], values[2])
    with transaction.atomic():
        RuleState.objects.select_for_update().get(pk=state_id)
        sweep()

        def worker_blocked() -> bool:
            with connection.cursor() as cursor:
                # Activity is read once per transaction unless the snapshot is dropped.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database() AND query ILIKE %s AND pid <> pg_backend_pid()",
                    ["%warning_rulestate%"],
                )
                return cursor.fetchone()[0] > 0

        wait_for(worker_blocked, timeout=30, what="the worker to wait on the state row mid-transaction")
        first.kill()
    # Killed before it finished that sweep: two ran to the end, the third did not.
    assert len(SWEEP_DONE.findall(first.output())) == 2
    # Its transaction never committed: the run is still two readings long.
    assert run_length(state_id) == 2
    assert not Warning.objects.exists()

    second = workers("rules-second")
    sweep()
    wait_for(lambda: run_length(state_id) == 3, timeout=30, what="the new worker to count reading 3")
    store(sensor, times[3], values[3])
    sweep()
    wait_for(lambda: run_length(state_id) == 4, timeout=30, what="reading 4 counted")
    assert not Warning.objects.exists()
    store(sensor, times[4], values[4])
    sweep()
    warning = wait_for(lambda: Warning.objects.first(), timeout=30, what="the warning")
    assert (warning.opened_at, warning.first_value, warning.level) == (times[4], values[4], 3)
    # Swept again, and a replayed reading: still one warning, opened once.
    sweep()
    Reading.objects.bulk_create([Reading(sensor=sensor, observed_at=times[4], value=values[4])], ignore_conflicts=True)
    sweep()
    wait_for(lambda: len(SWEEP_DONE.findall(second.output())) == 5, timeout=30, what="every sweep sent to run")
    assert Warning.objects.count() == 1
    assert list(warning.transitions.values_list("kind", flat=True)) == [TransitionKind.OPENED]


def test_a_rule_changed_in_admin_applies_to_the_next_reading_without_a_restart(workers, admin_client):
    rule = ThresholdRuleFactory()  # above: III 10, II 20, I 50, dead band 1
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    workers("rules-admin")
    at = timezone.now() - timedelta(minutes=5)
    store(sensor, at, 15.0)
    sweep()
    warning = wait_for(lambda: Warning.objects.first(), timeout=30, what="the warning")
    assert warning.level == 3

    response = admin_client.post(
        f"/admin/warning/thresholdrule/{rule.pk}/change/",
        {
            "name": rule.name,
            "is_active": "on",
            "sensor_type": rule.sensor_type_id,
            "kind": "threshold",
            "direction": "above",
            "level3_threshold": "10",
            "level2_threshold": "14",
            "level1_threshold": "50",
            "dead_band": "1",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    store(sensor, at + timedelta(seconds=30), 15.0)
    sweep()
    wait_for(
        lambda: Warning.objects.get(pk=warning.pk).level == 2, timeout=30, what="the escalation under the new rule"
    )
