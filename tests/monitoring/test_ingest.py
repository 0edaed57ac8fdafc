"""POST /api/v1/readings/: a gateway's batch, the good and the nasty."""

import json
from datetime import UTC, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from monitoring.models import Gateway, Reading, Sensor, SensorState, SensorStatus
from monitoring.services import gateway_create, gateway_issue_token
from tests.factories import GatewayFactory, SensorFactory

URL = "/api/v1/readings/"


@pytest.fixture
def sensors(gateway):
    return [SensorFactory(code=f"GAS-{n:04d}", gateway=gateway) for n in range(1, 4)]


def post(client, gateway, body, *, raw: bool = False):
    data = body if raw else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {gateway.token}")


def iso(minutes_ago: float = 0) -> str:
    return (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()


def test_a_valid_batch_is_stored_and_counted(client, gateway, sensors):
    body = [{"sensor": s.code, "observed_at": iso(1), "value": 4.5 + i} for i, s in enumerate(sensors)]

    response = post(client, gateway, body)

    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 3, "duplicates": 0, "errors": []}
    assert Reading.objects.count() == 3
    assert sorted(Reading.objects.values_list("value", flat=True)) == [4.5, 5.5, 6.5]


def test_the_latest_value_moves_forward_only(client, gateway, sensors):
    sensor = sensors[0]
    post(client, gateway, [{"sensor": sensor.code, "observed_at": iso(1), "value": 7.0}])
    # A late reading from the gateway's buffer is stored but is not "latest".
    response = post(client, gateway, [{"sensor": sensor.code, "observed_at": iso(30), "value": 99.0}])

    assert response.json()["accepted"] == 1
    sensor.refresh_from_db()
    assert sensor.latest_value == 7.0
    assert sensor.status == SensorStatus.ONLINE
    assert Reading.objects.filter(sensor=sensor).count() == 2


def test_the_latest_value_is_the_newest_of_the_batch(client, gateway, sensors):
    sensor = sensors[0]
    body = [
        {"sensor": sensor.code, "observed_at": iso(3), "value": 1.0},
        {"sensor": sensor.code, "observed_at": iso(1), "value": 3.0},
        {"sensor": sensor.code, "observed_at": iso(2), "value": 2.0},
    ]
    post(client, gateway, body)
    sensor.refresh_from_db()
    assert sensor.latest_value == 3.0


def test_a_batch_leaves_evaluation_its_oldest_unevaluated_reading_and_time(client, gateway, sensors):
    sensor, other = sensors[0], sensors[1]
    first = iso(10)
    post(client, gateway, [{"sensor": sensor.code, "observed_at": first, "value": 5.0}])
    # Evaluation saw that one; the next batch's readings are all new to it.
    SensorState.objects.filter(sensor=sensor).update(
        unevaluated_since=None, unevaluated_observed_from=None, unevaluated_reading_id_from=None
    )
    body = [
        {"sensor": sensor.code, "observed_at": iso(2), "value": 2.0},
        {"sensor": sensor.code, "observed_at": iso(4), "value": 4.0},
        {"sensor": sensor.code, "observed_at": first, "value": 9.0},  # already stored
        {"sensor": other.code, "observed_at": iso(1), "value": 1.0},
    ]

    response = post(client, gateway, body)

    assert response.json() == {"accepted": 3, "duplicates": 1, "errors": []}
    stored = list(Reading.objects.filter(sensor=sensor).order_by("id"))
    state = SensorState.objects.get(sensor=sensor)
    assert (state.latest_value, state.latest_observed_at) == (2.0, stored[1].observed_at)
    assert state.latest_reading_id == stored[-1].id
    assert state.unevaluated_observed_from == stored[2].observed_at
    assert state.unevaluated_reading_id_from == stored[1].id
    assert state.unevaluated_since == stored[1].received_at
    assert SensorState.objects.get(sensor=other).latest_value == 1.0


def test_a_retried_batch_is_harmless(client, gateway, sensors):
    body = [{"sensor": s.code, "observed_at": iso(1), "value": 1.0} for s in sensors]
    post(client, gateway, body)

    response = post(client, gateway, body)

    assert response.status_code == 200
    assert response.json() == {"accepted": 0, "duplicates": 3, "errors": []}
    assert Reading.objects.count() == 3


def test_a_duplicate_inside_one_batch_counts_once(client, gateway, sensors):
    when = iso(1)
    body = [
        {"sensor": sensors[0].code, "observed_at": when, "value": 1.0},
        {"sensor": sensors[0].code, "observed_at": when, "value": 2.0},
    ]
    response = post(client, gateway, body)
    assert response.json() == {"accepted": 1, "duplicates": 1, "errors": []}
    assert Reading.objects.get().value == 1.0


def test_the_same_instant_in_another_zone_is_a_duplicate(client, gateway, sensors):
    utc = (timezone.now() - timedelta(hours=1)).replace(microsecond=0).astimezone(UTC)
    shanghai = utc.astimezone(timezone.get_fixed_timezone(8 * 60))
    body = [
        {"sensor": sensors[0].code, "observed_at": utc.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": 1.0},
        {"sensor": sensors[0].code, "observed_at": shanghai.isoformat(), "value": 2.0},
    ]
    response = post(client, gateway, body)
    assert response.json()["duplicates"] == 1
    assert Reading.objects.get().observed_at == utc


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        ({"sensor": "GAS-0001", "observed_at": "NOW", "value": "12.5"}, "value", "must be a number, not a string"),
        ({"sensor": "GAS-0001", "observed_at": "NOW", "value": None}, "value", "must be a number, not null"),
        ({"sensor": "GAS-0001", "observed_at": "NOW", "value": True}, "value", "must be a number, not bool"),
        ({"sensor": "GAS-0001", "observed_at": "NOW", "value": [1]}, "value", "must be a number, not list"),
        ({"sensor": "NOPE-1", "observed_at": "NOW", "value": 1}, "sensor", "unknown sensor 'NOPE-1'"),
        ({"sensor": 17, "observed_at": "NOW", "value": 1}, "sensor", "must be a sensor code"),
        ({"sensor": "GAS-0001", "observed_at": "2026-11-21T08:00:00", "value": 1}, "observed_at", "has no time zone"),
        ({"sensor": "GAS-0001", "observed_at": "yesterday", "value": 1}, "observed_at", "is not an ISO 8601 timestamp"),
        ({"sensor": "GAS-0001", "observed_at": 1732176000, "value": 1}, "observed_at", "must be an ISO 8601 timestamp"),
        ({"sensor": "GAS-0001", "observed_at": "FUTURE", "value": 1}, "observed_at", "in the future"),
        ({"sensor": "GAS-0001", "observed_at": "1970-01-01T00:00:00Z", "value": 1}, "observed_at", "days old"),
        ({"sensor": "GAS\u00000001", "observed_at": "NOW", "value": 1}, "sensor", "must be a sensor code"),
        ({"observed_at": "NOW", "value": 1}, "sensor", "is required"),
        ({"sensor": "GAS-0001", "value": 1}, "observed_at", "is required"),
        ({"sensor": "GAS-0001", "observed_at": "NOW"}, "value", "is required"),
    ],
)
def test_an_invalid_item_is_described_and_the_valid_ones_kept(client, gateway, sensors, item, field, message):
    when = {"NOW": iso(1), "FUTURE": (timezone.now() + timedelta(minutes=6)).isoformat()}
    if item.get("observed_at") in when:
        item = {**item, "observed_at": when[item["observed_at"]]}
    good = {"sensor": "GAS-0002", "observed_at": iso(1), "value": 2.0}

    response = post(client, gateway, [good, item])

    assert response.status_code == 422
    body = response.json()
    assert body["accepted"] == 1
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert (error["index"], error["field"]) == (1, field)
    assert message in error["message"]
    assert Reading.objects.get().sensor.code == "GAS-0002"


def test_a_timestamp_just_inside_the_five_minutes_is_accepted(client, gateway, sensors):
    ahead = (timezone.now() + timedelta(minutes=4)).isoformat()
    response = post(client, gateway, [{"sensor": "GAS-0001", "observed_at": ahead, "value": 1}])
    assert response.status_code == 200
    assert response.json()["accepted"] == 1


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "1" + "0" * 400])
def test_non_finite_numbers_are_refused_per_item(client, gateway, sensors, literal):
    body = (
        f'[{{"sensor": "GAS-0001", "observed_at": "{iso(1)}", "value": 1.5}},'
        f' {{"sensor": "GAS-0002", "observed_at": "{iso(1)}", "value": {literal}}}]'
    )
    response = post(client, gateway, body, raw=True)

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["index"] == 1
    assert error["field"] == "value"
    assert "finite" in error["message"]
    assert Reading.objects.get().value == 1.5


def test_a_sensor_of_another_gateway_is_refused(client, gateway, sensors):
    other = SensorFactory(code="WATER-0001", gateway=GatewayFactory())
    response = post(client, gateway, [{"sensor": other.code, "observed_at": iso(1), "value": 1}])
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == "sensor 'WATER-0001' is not served by this gateway."
    assert not Reading.objects.exists()


def test_a_disabled_sensor_is_refused(client, gateway, sensors):
    Sensor.objects.filter(code="GAS-0003").update(is_active=False)
    response = post(client, gateway, [{"sensor": "GAS-0003", "observed_at": iso(1), "value": 1}])
    assert "disabled" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ('[{"sensor": "GAS-0001",', 400, "Malformed JSON"),
        ("", 400, "Malformed JSON"),
        ('{"sensor": "GAS-0001"}', 400, "must be a JSON array"),
        ("[]", 400, "The batch is empty"),
        ("[" * 100_000 + "]" * 100_000, 400, "nested too deeply"),
        ('[{"value": ' + "9" * 5000 + "}]", 400, "Malformed JSON"),
        (b"\xff\xfe[]", 400, "not UTF-8"),
    ],
)
def test_a_malformed_body_is_refused_whole(client, gateway, sensors, body, status, detail):
    response = post(client, gateway, body, raw=True)
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert not Reading.objects.exists()


@override_settings(INGEST_MAX_BATCH=5)
def test_an_oversized_batch_is_refused_whole(client, gateway, sensors):
    body = [{"sensor": "GAS-0001", "observed_at": iso(i), "value": 1} for i in range(6)]
    response = post(client, gateway, body)
    assert response.status_code == 413
    assert "at most 5" in response.json()["detail"]
    assert not Reading.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_a_body_over_the_upload_limit_is_refused_whole(client, gateway, sensors):
    body = [{"sensor": "GAS-0001", "observed_at": iso(i), "value": 1} for i in range(3)]
    response = post(client, gateway, body)
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}
    assert not Reading.objects.exists()


def test_a_missing_token_is_refused(client, sensors):
    response = client.post(URL, data="[]", content_type="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer wrong-token", "Basic dXNlcjpwYXNz", "Bearer "])
def test_a_wrong_token_is_refused(client, gateway, sensors, header):
    body = json.dumps([{"sensor": "GAS-0001", "observed_at": iso(1), "value": 1}])
    response = client.post(URL, data=body, content_type="application/json", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert not Reading.objects.exists()


def test_a_replaced_token_stops_working(client, gateway, sensors):
    old = gateway.token
    gateway.token = gateway_issue_token(gateway=gateway)
    body = [{"sensor": "GAS-0001", "observed_at": iso(1), "value": 1}]
    stale = client.post(URL, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {old}")
    assert stale.status_code == 401
    assert post(client, gateway, body).status_code == 200


def test_a_disabled_gateway_is_refused(client, sensors):
    disabled, token = gateway_create(code="gw-off", name="Off")
    disabled.is_active = False
    disabled.save()
    body = json.dumps([{"sensor": "GAS-0001", "observed_at": iso(1), "value": 1}])
    response = client.post(URL, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "disabled" in response.json()["detail"]


def test_a_person_cannot_post_readings(client, duty_officer, sensors):
    client.force_login(duty_officer)
    body = json.dumps([{"sensor": "GAS-0001", "observed_at": iso(1), "value": 1}])
    response = client.post(URL, data=body, content_type="application/json")
    assert response.status_code in (401, 403)
    assert not Reading.objects.exists()


def test_a_batch_is_written_in_a_fixed_number_of_queries(client, gateway, django_assert_max_num_queries, monkeypatch):
    from monitoring import services

    monkeypatch.setattr(services, "_backlog_seen", (float("-inf"), 0.0))
    codes = [SensorFactory(code=f"BULK-{n:04d}", gateway=gateway).code for n in range(200)]
    body = [{"sensor": code, "observed_at": iso(1), "value": 1.0} for code in codes]
    # token lookup, evaluation backlog (once a second), sensor lookup,
    # savepoint, timeouts, lock, (first readings: create the state rows and
    # lock them), insert and update states (one statement), online status,
    # gateway seen, release, the gateway's tally for /metrics (after the commit)
    with django_assert_max_num_queries(13):
        response = post(client, gateway, body)
    assert response.json()["accepted"] == 200
    # Later batches find the state rows and the sensors online.
    body = [{"sensor": code, "observed_at": iso(0.5), "value": 2.0} for code in codes]
    with django_assert_max_num_queries(9):
        response = post(client, gateway, body)
    assert response.json()["accepted"] == 200


def test_the_gateway_is_seen_by_each_batch_but_its_row_written_at_most_every_ten_seconds(client, gateway, sensors):
    post(client, gateway, [{"sensor": "GAS-0001", "observed_at": iso(3), "value": 1.0}])
    gateway.refresh_from_db()
    first_seen = gateway.last_seen_at
    assert first_seen is not None

    post(client, gateway, [{"sensor": "GAS-0001", "observed_at": iso(2), "value": 1.0}])
    gateway.refresh_from_db()
    assert gateway.last_seen_at == first_seen

    Gateway.objects.filter(pk=gateway.pk).update(last_seen_at=first_seen - timedelta(seconds=11))
    post(client, gateway, [{"sensor": "GAS-0001", "observed_at": iso(1), "value": 1.0}])
    gateway.refresh_from_db()
    assert gateway.last_seen_at > first_seen
