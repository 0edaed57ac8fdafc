"""Liveness, readiness and the heartbeats of the worker, beat and MQTT bridge.

The processes are real: a Celery worker, Celery beat and the MQTT bridge are
started, watched beating, and stopped.
"""

import functools
import signal
import uuid
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from citysafety.celery import app
from citysafety.heartbeats import Pacemaker, heartbeat_record
from citysafety.models import Heartbeat, ProcessKind
from tests.live import VENV_BIN, start, wait_for

# Fast beats for the processes these tests start; the test process reads
# its own HEARTBEAT_STALE_SECONDS (set per test where staleness matters).
FAST = {"HEARTBEAT_SECONDS": "0.3", "HEARTBEAT_STALE_SECONDS": "1"}


def all_beating() -> None:
    for kind in ProcessKind:
        heartbeat_record(kind=kind, name=f"{kind}-1")


def readyz(client: Client) -> tuple[int, dict]:
    response = client.get("/readyz")
    return response.status_code, response.json()


# --- Liveness -----------------------------------------------------------------


def test_healthz_answers_without_asking_the_database_anything(client):
    # No django_db mark: pytest-django refuses any database access here.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_the_probes_answer_a_load_balancer_that_knows_the_process_only_by_its_address(client, settings):
    # ALLOWED_HOSTS names the public site; the compose health check and the
    # load balancer ask 10.0.0.5:8000 over plain HTTP.
    settings.ALLOWED_HOSTS = ["city.example.org"]
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz", HTTP_HOST="10.0.0.5:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.0.5:8000").status_code in (200, 503)
    # Everything else still meets the host check.
    assert client.get("/login/", HTTP_HOST="10.0.0.5:8000").status_code == 400


def test_the_probes_take_only_get(client):
    response = client.post("/healthz")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


# --- Readiness ----------------------------------------------------------------


@pytest.mark.django_db
def test_readyz_names_each_check_with_its_state_and_age_when_all_is_well(client):
    all_beating()

    status, answer = readyz(client)

    assert status == 200, answer
    assert answer["status"] == "ready"
    assert set(answer["checks"]) == {"database", "redis", "broker", "worker", "beat", "mqtt_bridge"}
    for name, check in answer["checks"].items():
        assert check["state"] == "ok", (name, check)
        assert check["required"] is True
        assert check["age"] >= 0
    assert answer["checks"]["worker"]["processes"][0]["name"] == "worker-1"


@pytest.mark.django_db
def test_readyz_says_which_heartbeat_is_stale_and_since_when(client, settings):
    settings.HEARTBEAT_STALE_SECONDS = 60
    all_beating()
    last = timezone.now() - timedelta(minutes=5)
    Heartbeat.objects.filter(kind=ProcessKind.BEAT).update(beat_at=last)

    status, answer = readyz(client)

    assert status == 503
    assert answer["status"] == "unready"
    beat = answer["checks"]["beat"]
    assert beat["state"] == "stale"
    assert "beat-1" in beat["detail"]
    assert beat["since"] == (last + timedelta(seconds=60)).isoformat()
    assert 299 < beat["age"] < 320
    assert answer["checks"]["worker"]["state"] == "ok"


@pytest.mark.django_db
def test_a_process_that_never_reported_is_missing(client):
    heartbeat_record(kind=ProcessKind.WORKER, name="worker-1")
    heartbeat_record(kind=ProcessKind.BEAT, name="beat-1")

    status, answer = readyz(client)

    assert status == 503
    assert answer["checks"]["mqtt_bridge"]["state"] == "missing"


@pytest.mark.django_db
def test_a_check_left_out_of_readiness_required_is_reported_but_does_not_fail_it(client, settings):
    settings.READINESS_REQUIRED = ["database", "redis", "broker", "worker", "beat"]
    heartbeat_record(kind=ProcessKind.WORKER, name="worker-1")
    heartbeat_record(kind=ProcessKind.BEAT, name="beat-1")

    status, answer = readyz(client)

    assert status == 200, answer
    assert answer["checks"]["mqtt_bridge"] | {"required": False} == answer["checks"]["mqtt_bridge"]
    assert answer["checks"]["mqtt_bridge"]["state"] == "missing"


@pytest.mark.django_db
def test_one_running_replica_keeps_its_kind_ready_and_the_stopped_one_is_listed(client):
    all_beating()
    heartbeat_record(kind=ProcessKind.WORKER, name="worker-2")
    Heartbeat.objects.filter(name="worker-2").update(stopped_at=timezone.now())

    status, answer = readyz(client)

    assert status == 200
    states = {p["name"]: p["state"] for p in answer["checks"]["worker"]["processes"]}
    assert states == {"worker-1": "ok", "worker-2": "stopped"}


@pytest.mark.django_db
def test_redis_out_of_reach_makes_readyz_fail_naming_redis_and_nothing_of_its_address(client, settings):
    all_beating()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    status, answer = readyz(client)

    assert status == 503
    assert answer["checks"]["redis"]["state"] == "failing"
    assert answer["checks"]["redis"]["detail"] == "ConnectionError"
    assert "127.0.0.1" not in str(answer)
    assert answer["checks"]["database"]["state"] == "ok"


# --- Real processes -------------------------------------------------------------


def stop(process, how: signal.Signals) -> None:
    process.popen.send_signal(how)
    process.popen.wait(timeout=30)


def worker_state(client: Client, name: str) -> str | None:
    _status, answer = readyz(client)
    return next((p["state"] for p in answer["checks"]["worker"].get("processes", []) if p["name"] == name), None)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("how", "state"), [(signal.SIGTERM, "stopped"), (signal.SIGKILL, "stale")], ids=["stopped", "killed"]
)
def test_readyz_is_green_with_the_real_worker_running_and_red_naming_it_once_it_stops(client, settings, how, state):
    settings.HEARTBEAT_STALE_SECONDS = 1
    # Only this test's worker counts (the session's worker beats once an hour).
    Heartbeat.objects.filter(kind=ProcessKind.WORKER).delete()
    Heartbeat.objects.update_or_create(
        kind=ProcessKind.BEAT,
        name="beat-1",
        defaults={"beat_at": timezone.now() + timedelta(hours=1)},
        create_defaults={"started_at": timezone.now(), "beat_at": timezone.now() + timedelta(hours=1)},
    )
    Heartbeat.objects.create(
        kind=ProcessKind.MQTT_BRIDGE,
        name="bridge-1",
        started_at=timezone.now(),
        beat_at=timezone.now() + timedelta(hours=1),
    )
    name = f"health-{uuid.uuid4().hex[:8]}@localhost"
    command = [str(VENV_BIN / "celery"), "-A", "citysafety", "worker", "--pool=solo", "--without-gossip"]
    command += ["--without-mingle", "--without-heartbeat", f"--hostname={name}", "--queues=health-only"]
    worker = start("celery-worker-health", command, env=FAST)
    try:
        wait_for(lambda: worker_state(client, name) == "ok", timeout=60, what="the worker's first heartbeat")
        status, answer = readyz(client)
        assert status == 200, answer

        stop(worker, how)

        wait_for(lambda: worker_state(client, name) == state, timeout=15, what=f"the worker to read {state}")
        status, answer = readyz(client)
        assert status == 503
        assert answer["checks"]["worker"]["state"] == state
        assert name in answer["checks"]["worker"]["detail"]
        assert answer["checks"]["worker"]["since"]
    finally:
        worker.stop()


@pytest.mark.django_db(transaction=True)
def test_beat_beats_while_it_runs_and_is_stopped_when_it_ends(tmp_path):
    beat = start(
        "celery-beat-health",
        [str(VENV_BIN / "celery"), "-A", "citysafety", "beat", "-s", str(tmp_path / "schedule"), "--loglevel=INFO"],
        env=FAST,
    )
    try:
        row = wait_for(
            lambda: Heartbeat.objects.filter(kind=ProcessKind.BEAT, stopped_at=None).first(), timeout=60, what="beat"
        )
        first = row.beat_at
        wait_for(lambda: Heartbeat.objects.get(pk=row.pk).beat_at > first, timeout=10, what="a second beat")

        stop(beat, signal.SIGTERM)

        assert Heartbeat.objects.get(pk=row.pk).stopped_at is not None, beat.output()[-2000:]
    finally:
        beat.stop()


@pytest.mark.django_db(transaction=True)
def test_the_mqtt_bridge_beats_while_connected_and_is_stopped_when_it_ends():
    client_id = f"bridge-health-{uuid.uuid4().hex[:8]}"
    bridge = start(
        "mqtt-bridge-health",
        [str(VENV_BIN / "python"), "manage.py", "mqtt_bridge", "--client-id", client_id, "--workers", "1"],
        env={**FAST, "MQTT_SHARE_GROUP": uuid.uuid4().hex, "MQTT_SESSION_EXPIRY_SECONDS": "60"},
    )
    try:
        row = wait_for(
            lambda: Heartbeat.objects.filter(kind=ProcessKind.MQTT_BRIDGE, name=client_id).first(),
            timeout=60,
            what="the bridge's heartbeat",
        )
        assert row.stopped_at is None

        stop(bridge, signal.SIGTERM)

        assert Heartbeat.objects.get(pk=row.pk).stopped_at is not None, bridge.output()[-2000:]
    finally:
        bridge.stop()


@pytest.mark.django_db(transaction=True)
def test_a_process_that_says_it_is_cut_off_skips_its_beats_until_it_is_back():
    # The bridge's pacemaker asks whether it is connected to the broker.
    answers = iter([False, False, False])
    rows_while_cut_off = []

    def alive() -> bool:
        connected = next(answers, True)
        if not connected:
            rows_while_cut_off.append(Heartbeat.objects.filter(name="bridge-x").count())
        return connected

    pacemaker = Pacemaker(kind=ProcessKind.MQTT_BRIDGE, name="bridge-x", interval=0.05, alive=alive).start()
    try:
        wait_for(lambda: Heartbeat.objects.filter(name="bridge-x").exists(), what="the beat once connected")
    finally:
        pacemaker.stop()

    assert rows_while_cut_off == [0, 0, 0]
    assert Heartbeat.objects.get(name="bridge-x").stopped_at is not None


# --- /api/v1/health/ for the banner -----------------------------------------------


@pytest.mark.django_db
def test_the_health_api_refuses_a_visitor_who_is_not_signed_in(client):
    assert client.get("/api/v1/health/").status_code == 403


@pytest.mark.django_db
def test_the_health_api_tells_the_duty_officer_which_process_is_down_and_since_when(client, duty_officer):
    all_beating()
    stopped = timezone.now()
    Heartbeat.objects.filter(kind=ProcessKind.WORKER).update(stopped_at=stopped)
    client.force_login(duty_officer)

    answer = client.get("/api/v1/health/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    assert answer["ok"] is False
    kinds = {item["kind"]: item for item in answer["processes"]}
    assert kinds["worker"]["state"] == "stopped"
    assert datetime.fromisoformat(kinds["worker"]["since"]) == stopped
    assert kinds["worker"]["label"] == "Celery 工作进程"
    assert "预警" in kinds["worker"]["message"]
    assert kinds["beat"] == kinds["beat"] | {"state": "ok", "message": "", "since": None}


@pytest.mark.django_db
def test_department_staff_read_the_same_platform_state_and_nothing_of_any_department(client, staff_a, staff_b):
    all_beating()
    answers = []
    for person in (staff_a, staff_b):
        client.force_login(person)
        response = client.get("/api/v1/health/")
        assert response.status_code == 200
        answers.append(response.json())

    assert answers[0]["ok"] is answers[1]["ok"] is True
    assert [item["kind"] for item in answers[0]["processes"]] == ["worker", "beat", "mqtt_bridge"]
    for answer in answers:
        text = str(answer)
        assert "gas-company" not in text
        assert "water-company" not in text
        assert set(answer) == {"ok", "processes"}


# --- The compose health checks' command ---------------------------------------------


@pytest.mark.django_db
def test_check_heartbeat_passes_a_beating_process_and_fails_a_stale_one_naming_it(settings):
    settings.HEARTBEAT_STALE_SECONDS = 60
    heartbeat_record(kind=ProcessKind.BEAT, name="beat@box-1")
    call_command("check_heartbeat", "beat", "--name", "beat@box-1")
    call_command("check_heartbeat", "beat")

    Heartbeat.objects.update(beat_at=timezone.now() - timedelta(minutes=5))

    with pytest.raises(CommandError, match="beat 'beat@box-1' is stale since"):
        call_command("check_heartbeat", "beat", "--name", "beat@box-1")
    with pytest.raises(CommandError, match="beat@box-1"):
        call_command("check_heartbeat", "beat")
    with pytest.raises(CommandError, match="never reported"):
        call_command("check_heartbeat", "beat", "--name", "beat@box-2")


@pytest.mark.django_db
def test_a_kind_is_down_since_its_last_process_went(client, settings):
    settings.HEARTBEAT_STALE_SECONDS = 60
    all_beating()
    now = timezone.now()
    heartbeat_record(kind=ProcessKind.WORKER, name="worker-2")
    # worker-2 stopped cleanly 45 s ago; worker-1, killed, last beat 90 s
    # ago and went stale 30 s ago: the kind has been down for 30 s.
    Heartbeat.objects.filter(name="worker-1").update(beat_at=now - timedelta(seconds=90))
    Heartbeat.objects.filter(name="worker-2").update(
        beat_at=now - timedelta(seconds=45), stopped_at=now - timedelta(seconds=45)
    )

    _status, answer = readyz(client)

    worker = answer["checks"]["worker"]
    assert worker["state"] == "stale"
    assert worker["since"] == (now - timedelta(seconds=30)).isoformat()
    assert "worker-2, worker-1" in worker["detail"]


@pytest.mark.django_db
def test_heartbeats_are_listed_read_only_in_the_admin(admin_client_en):
    heartbeat_record(kind=ProcessKind.BEAT, name="beat@box-1")

    page = admin_client_en.get("/admin/citysafety/heartbeat/")

    assert page.status_code == 200
    assert "beat@box-1" in page.content.decode()
    assert admin_client_en.get("/admin/citysafety/heartbeat/add/").status_code == 403


@pytest.fixture
def admin_client_en(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.mark.django_db
def test_a_broker_out_of_reach_fails_readiness_at_once(client, monkeypatch):
    all_beating()
    elsewhere = functools.partial(app.connection_for_write, "redis://127.0.0.1:1/0")
    monkeypatch.setattr(app, "connection_for_write", elsewhere)

    status, answer = readyz(client)

    assert status == 503
    assert answer["checks"]["broker"]["state"] == "failing"
    assert answer["checks"]["redis"]["state"] == "ok"
