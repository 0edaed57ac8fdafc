"""Minute and hour roll-ups: folded in as readings arrive, late readings into their own bucket."""

import threading
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from django.db import connection

from monitoring.models import HourRollup, MinuteRollup, Reading, RollupProgress
from monitoring.rollups import readings_roll_up
from tests.factories import SensorFactory

pytestmark = pytest.mark.django_db

HOUR = datetime(2026, 11, 20, 8, tzinfo=UTC)


def _roll_up() -> None:
    """Two runs: the first looks at the ids handed out, the second folds them in once settled."""
    readings_roll_up()
    readings_roll_up()


def _store(sensor, *rows: tuple[datetime, float]) -> None:
    Reading.objects.bulk_create(Reading(sensor=sensor, observed_at=at, value=value) for at, value in rows)


def _summary(rollup) -> tuple:
    return (rollup.count, rollup.minimum, rollup.maximum, rollup.mean, rollup.last_value, rollup.last_observed_at)


def test_readings_are_summed_up_per_minute_and_per_hour():
    sensor, other = SensorFactory(), SensorFactory()
    _store(
        sensor,
        (HOUR + timedelta(seconds=10), 4.0),
        (HOUR + timedelta(seconds=50), 2.0),
        (HOUR + timedelta(seconds=30), 9.0),
        (HOUR + timedelta(minutes=59, seconds=59), 1.0),
        (HOUR + timedelta(hours=1), 5.0),
    )
    _store(other, (HOUR, 100.0))

    _roll_up()

    minutes = {m.bucket: m for m in MinuteRollup.objects.filter(sensor=sensor)}
    assert sorted(minutes) == [HOUR, HOUR + timedelta(minutes=59), HOUR + timedelta(hours=1)]
    assert _summary(minutes[HOUR]) == (3, 2.0, 9.0, 5.0, 2.0, HOUR + timedelta(seconds=50))
    hours = {h.bucket: h for h in HourRollup.objects.filter(sensor=sensor)}
    assert sorted(hours) == [HOUR, HOUR + timedelta(hours=1)]
    assert _summary(hours[HOUR]) == (4, 1.0, 9.0, 4.0, 1.0, HOUR + timedelta(minutes=59, seconds=59))
    assert _summary(hours[HOUR + timedelta(hours=1)]) == (1, 5.0, 5.0, 5.0, 5.0, HOUR + timedelta(hours=1))
    assert HourRollup.objects.get(sensor=other).total == 100.0


def test_a_late_reading_is_folded_into_the_bucket_it_was_observed_in():
    sensor = SensorFactory()
    _store(sensor, (HOUR + timedelta(minutes=5), 3.0), (HOUR + timedelta(minutes=40), 6.0))
    _roll_up()
    _store(sensor, (HOUR + timedelta(hours=2), 7.0))
    _roll_up()

    # From a gateway's buffer, hours late: an old minute, not the newest one.
    _store(sensor, (HOUR + timedelta(minutes=5, seconds=30), -1.0), (HOUR + timedelta(minutes=50), 8.0))
    _roll_up()

    minute = MinuteRollup.objects.get(sensor=sensor, bucket=HOUR + timedelta(minutes=5))
    assert _summary(minute) == (2, -1.0, 3.0, 1.0, -1.0, HOUR + timedelta(minutes=5, seconds=30))
    hour = HourRollup.objects.get(sensor=sensor, bucket=HOUR)
    assert _summary(hour) == (4, -1.0, 8.0, 4.0, 8.0, HOUR + timedelta(minutes=50))
    # A late reading older than the bucket's last leaves the last value alone.
    _store(sensor, (HOUR + timedelta(minutes=1), 0.5))
    _roll_up()
    hour.refresh_from_db()
    assert (hour.count, hour.minimum, hour.last_value) == (5, -1.0, 8.0)
    assert HourRollup.objects.get(sensor=sensor, bucket=HOUR + timedelta(hours=2)).count == 1


def test_running_the_roll_up_again_folds_nothing_twice():
    sensor = SensorFactory()
    _store(sensor, *[(HOUR + timedelta(seconds=15 * n), float(n)) for n in range(12)])
    _roll_up()
    before = [_summary(r) for r in HourRollup.objects.all()] + [_summary(r) for r in MinuteRollup.objects.all()]

    for _ in range(3):
        readings_roll_up()

    after = [_summary(r) for r in HourRollup.objects.all()] + [_summary(r) for r in MinuteRollup.objects.all()]
    assert after == before
    assert RollupProgress.objects.get().rolled_up_through == Reading.objects.order_by("-id").first().id


def test_a_backlog_is_caught_up_in_chunks():
    sensor = SensorFactory()
    _store(sensor, *[(HOUR + timedelta(minutes=n), 1.0) for n in range(25)])
    readings_roll_up(chunk=10)

    run = readings_roll_up(chunk=10)

    assert run.readings_seen >= 25
    assert HourRollup.objects.get(sensor=sensor).count == 25


@pytest.mark.django_db(transaction=True)
def test_a_reading_committed_after_a_newer_one_is_not_skipped():
    """Batch A takes a reading id, batch B a larger one and commits first: the roll-up waits for A."""
    sensor = SensorFactory()
    settings_dict = connection.settings_dict
    other = psycopg2.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
    )
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "INSERT INTO monitoring_reading (sensor_id, observed_at, value, received_at)"
                " VALUES (%s, %s, 1.0, now()) RETURNING id",
                [sensor.pk, HOUR],
            )
            slow_id = cursor.fetchone()[0]
        _store(sensor, (HOUR + timedelta(seconds=1), 2.0))  # committed, a larger id
        _roll_up()
        _roll_up()
        assert RollupProgress.objects.get().rolled_up_through < slow_id
        assert not HourRollup.objects.filter(sensor=sensor).exists()

        other.commit()
        _roll_up()
        assert HourRollup.objects.get(sensor=sensor).count == 2
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_fold_each_reading_once():
    sensor = SensorFactory()
    _store(sensor, *[(HOUR + timedelta(seconds=n), 1.0) for n in range(200)])
    readings_roll_up()
    results = []

    def run():
        try:
            results.append(readings_roll_up(chunk=50))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _roll_up()

    assert HourRollup.objects.get(sensor=sensor).count == 200
    assert MinuteRollup.objects.filter(sensor=sensor).count() == 4
