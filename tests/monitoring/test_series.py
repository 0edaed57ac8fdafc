"""A sensor's chart: readings up to a day, the hour roll-ups beyond."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.models import HourRollup, Reading
from monitoring.rollups import readings_roll_up
from tests.factories import SensorFactory

pytestmark = pytest.mark.django_db


def _url(sensor, **query) -> str:
    return reverse("api-sensor-series", args=[sensor.pk]) + "?" + urlencode(query)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def sensor_with_history(db, department_a):
    """Three days of a reading every 20 minutes, rolled up."""
    sensor = SensorFactory(owner_department=department_a)
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=3)
    Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=start + timedelta(minutes=20 * n), value=float(n % 7)) for n in range(216)
    )
    readings_roll_up()
    readings_roll_up()
    sensor.span = (start, end)
    return sensor


def test_a_chart_beyond_a_day_reads_the_hour_roll_ups(
    client, duty_officer, sensor_with_history, django_assert_max_num_queries
):
    client.force_login(duty_officer)
    start, end = sensor_with_history.span
    # The roll-ups alone answer: readings changed behind their back do not show.
    Reading.objects.filter(sensor=sensor_with_history).update(value=1000.0)

    # Session, user, roles, the sensor, the series.
    with django_assert_max_num_queries(5):
        response = client.get(_url(sensor_with_history, start=_iso(start), end=_iso(end)))

    assert response.status_code == 200
    body = response.json()
    assert body["resolution"] == "hour"
    series = body["series"]
    assert len(series["t"]) == 72
    assert series["t"][0] == start.isoformat()
    assert series["count"] == [3] * 72
    first = HourRollup.objects.get(sensor=sensor_with_history, bucket=start)
    assert (series["min"][0], series["max"][0], series["mean"][0], series["last"][0]) == (
        first.minimum,
        first.maximum,
        first.mean,
        first.last_value,
    )
    assert max(series["max"]) == 6.0


def test_a_chart_of_a_few_hours_reads_the_readings(client, duty_officer, sensor_with_history):
    client.force_login(duty_officer)
    _, end = sensor_with_history.span

    response = client.get(_url(sensor_with_history, start=_iso(end - timedelta(hours=2)), end=_iso(end)))

    assert response.status_code == 200
    body = response.json()
    assert body["resolution"] == "raw"
    assert len(body["series"]["t"]) == len(body["series"]["value"]) == 6


def test_minutes_on_request(client, duty_officer, sensor_with_history):
    client.force_login(duty_officer)
    _, end = sensor_with_history.span

    response = client.get(
        _url(sensor_with_history, start=_iso(end - timedelta(days=2)), end=_iso(end), resolution="minute")
    )

    assert response.status_code == 200
    assert response.json()["series"]["count"] == [1] * 144


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"start": "2026-11-21T08:00:00Z", "end": "2026-11-20T08:00:00Z"}, "start", "before end"),
        ({"start": "yesterday"}, "start", "ISO 8601"),
        ({"start": "2026-11-21T08:00:00"}, "start", "time zone"),
        ({"end": "2026-13-45T08:00:00Z"}, "end", "ISO 8601"),
        ({"end": ""}, "end", "ISO 8601"),
        # Year 0 in UTC: Python cannot compare it (a 500 before).
        ({"start": "0001-01-01T00:00:00+08:00"}, "start", "outside the years 1 to 9999"),
        ({"end": "9999-12-31T23:00:00-08:00"}, "end", "outside the years 1 to 9999"),
        ({"resolution": "second"}, "resolution", "one of raw, minute, hour"),
        ({"resolution": ""}, "resolution", "one of raw, minute, hour, not ''"),
        (
            {"start": "2026-01-01T00:00:00Z", "end": "2026-11-01T00:00:00Z", "resolution": "raw"},
            "resolution",
            "at most 2 days",
        ),
    ],
)
def test_a_bad_query_is_refused_with_a_reason(client, duty_officer, query, field, words):
    client.force_login(duty_officer)
    sensor = SensorFactory()

    response = client.get(_url(sensor, **query), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert words in str(response.json())
    assert field in str(response.json())


def test_staff_see_only_the_charts_of_their_own_sensors(client, staff_a, staff_b, sensor_with_history):
    client.force_login(staff_b)
    assert client.get(_url(sensor_with_history)).status_code == 404
    client.force_login(staff_a)
    assert client.get(_url(sensor_with_history)).status_code == 200
    client.logout()
    assert client.get(_url(sensor_with_history)).status_code in {401, 403}


def test_an_hour_bucket_keeps_its_time_in_utc(client, duty_officer):
    client.force_login(duty_officer)
    sensor = SensorFactory()
    at = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
    Reading.objects.create(sensor=sensor, observed_at=at, value=2.0)
    readings_roll_up()
    readings_roll_up()

    response = client.get(_url(sensor, start="2026-11-20T00:00:00+08:00", end="2026-11-22T00:00:00Z"))

    assert response.json()["series"]["t"] == ["2026-11-21T00:00:00+00:00"]


def test_a_bad_query_is_refused_in_the_readers_language(client, duty_officer):
    client.force_login(duty_officer)

    response = client.get(_url(SensorFactory(), resolution="second"), HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 400
    assert response.json() == {"resolution": ["resolution 须为 raw, minute, hour 之一，而不是 'second'。"]}  # noqa: RUF001


def test_a_time_at_an_offset_postgresql_does_not_take_is_read_at_its_instant(client, duty_officer):
    client.force_login(duty_officer)

    response = client.get(_url(SensorFactory(), start="2026-11-21T18:15:00+18:15", end="2026-11-21T08:00:00Z"))

    assert response.status_code == 200, response.content
    assert response.json()["start"] == "2026-11-21T00:00:00+00:00"


@pytest.fixture
def sensor_with_a_week_of_minutes(db, department_a):
    """Seven days of a reading every minute (10,080), rolled up: what the week's chart must not fetch whole."""
    sensor = SensorFactory(owner_department=department_a)
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=7)
    Reading.objects.bulk_create(
        (
            Reading(sensor=sensor, observed_at=start + timedelta(minutes=n), value=float(n % 60))
            for n in range(7 * 24 * 60)
        ),
        batch_size=5000,
    )
    readings_roll_up()
    readings_roll_up()
    sensor.span = (start, end)
    return sensor


@pytest.mark.parametrize(
    ("days", "points", "step", "buckets"),
    [
        # A day in at most 1,000 points: 2-minute buckets (a 1-minute one would give 1,440).
        (1, 1000, 120, 720),
        # A week: 15-minute buckets, the first of the steps past 10,080 / 1,000 minutes.
        (7, 1000, 900, 672),
        (7, 200, 3600, 168),
    ],
)
def test_a_week_of_minutes_is_resampled_on_the_server_to_the_points_asked_for(
    client, duty_officer, sensor_with_a_week_of_minutes, days, points, step, buckets
):
    client.force_login(duty_officer)
    _, end = sensor_with_a_week_of_minutes.span

    response = client.get(
        _url(sensor_with_a_week_of_minutes, start=_iso(end - timedelta(days=days)), end=_iso(end), points=points)
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["resolution"] == "minute"
    assert body["step"] == step
    series = body["series"]
    assert len(series["t"]) == buckets <= points
    # Every minute is counted once, and each bucket keeps the extremes of its minutes.
    assert sum(series["count"]) == days * 24 * 60
    assert series["count"][0] == step // 60
    assert min(series["min"]) == 0.0
    assert max(series["max"]) == 59.0
    first = datetime.fromisoformat(series["t"][0])
    assert first == end - timedelta(days=days)
    assert series["last"][0] == float((step // 60 - 1) % 60)


def test_resampled_buckets_start_on_beijing_hours(client, duty_officer):
    client.force_login(duty_officer)
    sensor = SensorFactory()
    at = datetime(2026, 11, 21, 0, 40, tzinfo=UTC)  # 08:40 in Shanghai
    Reading.objects.create(sensor=sensor, observed_at=at, value=2.0)
    readings_roll_up()
    readings_roll_up()

    response = client.get(_url(sensor, start="2026-11-14T00:17:00+08:00", end="2026-11-22T00:17:00+08:00", points=10))

    # Eight days in ten points: 1-day buckets, from midnight in Beijing.
    body = response.json()
    assert body["step"] == 86400
    assert body["series"]["t"] == ["2026-11-20T16:00:00+00:00"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"points": "many"}, "points must be a whole number from 2 to 5000, not 'many'."),
        ({"points": "1"}, "points must be a whole number from 2 to 5000, not '1'."),
        ({"points": "100000"}, "points must be a whole number from 2 to 5000, not '100000'."),
        ({"points": "100", "resolution": "raw"}, "points resamples the minute or hour roll-ups"),
    ],
)
def test_a_bad_point_count_is_refused_with_a_reason(client, duty_officer, query, words):
    client.force_login(duty_officer)

    response = client.get(_url(SensorFactory(), **query), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert words in str(response.json())
    assert "points" in response.json()


def test_staff_see_only_the_resampled_charts_of_their_own_sensors(client, staff_a, staff_b, sensor_with_history):
    client.force_login(staff_b)
    assert client.get(_url(sensor_with_history, points=100)).status_code == 404
    client.force_login(staff_a)
    assert client.get(_url(sensor_with_history, points=100)).status_code == 200
