"""When the platform cannot keep up, gateways are told at once to come back later."""

import json
import time
from datetime import timedelta

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from monitoring import services
from monitoring.models import Reading, SensorState
from organisation.roles import DEPARTMENT_STAFF, DUTY_OFFICER
from tests.factories import SensorFactory, UserFactory


@pytest.fixture(autouse=True)
def _measure_the_backlog_afresh(monkeypatch):
    monkeypatch.setattr(services, "_backlog_seen", (float("-inf"), 0.0))


def post(client, gateway, body):
    return client.post(
        "/api/v1/readings/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {gateway.token}",
        HTTP_ACCEPT_LANGUAGE="en",
    )


def reading_for(sensor, minutes_ago: float = 1.0, value: float = 3.0) -> dict:
    at = (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()
    return {"sensor": sensor.code, "observed_at": at, "value": value}


@pytest.mark.django_db
def test_while_evaluation_lags_too_far_a_batch_is_refused_with_retry_after(client, gateway, settings):
    settings.INGEST_MAX_EVALUATION_LAG_SECONDS = 30
    waiting = SensorFactory(gateway=gateway)
    SensorState.objects.create(sensor=waiting, unevaluated_since=timezone.now() - timedelta(seconds=120))
    sensor = SensorFactory(gateway=gateway)

    response = post(client, gateway, [reading_for(sensor)])

    assert response.status_code == 429
    assert 5 <= int(response["Retry-After"]) <= 120
    assert "behind" in response.json()["detail"]
    assert not Reading.objects.exists()


@pytest.mark.django_db
def test_once_evaluation_catches_up_batches_are_taken_again(client, gateway, settings, monkeypatch):
    settings.INGEST_MAX_EVALUATION_LAG_SECONDS = 30
    sensor = SensorFactory(gateway=gateway)
    SensorState.objects.create(sensor=sensor, unevaluated_since=timezone.now() - timedelta(seconds=120))
    assert post(client, gateway, [reading_for(sensor, 2)]).status_code == 429

    SensorState.objects.filter(sensor=sensor).update(unevaluated_since=None)
    monkeypatch.setattr(services, "_backlog_seen", (float("-inf"), 0.0))

    response = post(client, gateway, [reading_for(sensor, 1)])
    assert response.status_code == 200
    assert response.json()["accepted"] == 1


@pytest.mark.django_db
def test_a_lag_within_the_limit_is_no_reason_to_refuse(client, gateway, settings):
    settings.INGEST_MAX_EVALUATION_LAG_SECONDS = 300
    sensor = SensorFactory(gateway=gateway)
    SensorState.objects.create(sensor=sensor, unevaluated_since=timezone.now() - timedelta(seconds=120))

    assert post(client, gateway, [reading_for(sensor)]).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_batch_stuck_behind_a_lock_gets_503_quickly_and_nothing_is_half_stored(client, gateway, settings):
    settings.INGEST_LOCK_TIMEOUT_MS = 300
    sensor = SensorFactory(gateway=gateway, latest_value=1.0)
    other = SensorFactory(gateway=gateway, latest_value=1.0)
    db = connection.settings_dict
    holder = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432
    )
    try:
        with holder.cursor() as cursor:
            # Someone else holds the sensor (a slow transaction, a stuck evaluator).
            cursor.execute("SELECT 1 FROM monitoring_sensorstate WHERE sensor_id = %s FOR UPDATE", [sensor.pk])
            started = time.monotonic()
            response = post(client, gateway, [reading_for(other), reading_for(sensor)])
            elapsed = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()

    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert "busy" in response.json()["detail"]
    assert elapsed < 5
    assert not Reading.objects.exists()


@pytest.mark.django_db
def test_the_duty_officer_is_told_how_far_evaluation_lags(client, settings):
    settings.EVALUATION_LAG_NOTICE_SECONDS = 10
    sensor = SensorFactory()
    # The lag is measured by the database's clock, which inside the test's
    # transaction stands at the transaction's start: the reading's mark is
    # set by that clock too, not by this process's (it was 0.1 s behind).
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        (database_now,) = cursor.fetchone()
    SensorState.objects.create(sensor=sensor, unevaluated_since=database_now - timedelta(seconds=95))
    client.force_login(UserFactory(roles=[DUTY_OFFICER]))

    backlog = client.get("/api/v1/evaluation/backlog/").json()

    assert backlog["lagging"] is True
    assert backlog["waiting_sensors"] == 1
    assert 95 <= backlog["lag_seconds"] < 120


@pytest.mark.django_db
def test_with_nothing_waiting_there_is_no_lag(client):
    client.force_login(UserFactory(roles=[DUTY_OFFICER]))

    assert client.get("/api/v1/evaluation/backlog/").json() == {
        "lag_seconds": 0.0,
        "waiting_sensors": 0,
        "lagging": False,
    }


@pytest.mark.django_db
def test_department_staff_do_not_see_the_backlog(client, department_a):
    client.force_login(UserFactory(roles=[DEPARTMENT_STAFF], department=department_a))

    assert client.get("/api/v1/evaluation/backlog/").status_code == 403
