"""Readings partitioned by day: partitions ahead, retention by dropping them, nothing lost outside."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from monitoring.models import Reading
from monitoring.partitions import TablePolicy, partitions_maintain, policies_from_settings
from monitoring.services import readings_ingest
from tests.factories import SensorFactory

pytestmark = pytest.mark.django_db


def _partitions(table: str = "monitoring_reading") -> dict[str, tuple[datetime, datetime]]:
    """Each partition's name and [from, to) bounds, the default partition left out."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits AS i"
            " JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [table],
        )
        rows = cursor.fetchall()
        bounds = {}
        for name, bound in rows:
            if bound == "DEFAULT":
                continue
            cursor.execute(
                "SELECT (regexp_match(%s, 'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)'))::timestamptz[]", [bound]
            )
            start, end = cursor.fetchone()[0]
            bounds[name] = (start, end)
    return bounds


def _partition_of(reading_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM monitoring_reading WHERE id = %s", [reading_id])
        return cursor.fetchone()[0]


def _as_if_committed() -> None:
    """Check the deferred foreign keys now: in production maintenance runs in
    a transaction of its own, and a table with pending checks cannot be dropped."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _reading_policy(**overrides) -> list[TablePolicy]:
    policy = {"retention_days": 0, "premake": 7, "reach_back_days": 30} | overrides
    return [TablePolicy("monitoring_reading", **policy)]


def test_the_days_ahead_have_their_partitions_before_any_reading_arrives(settings):
    settings.READING_PARTITIONS_AHEAD = 10
    partitions_maintain(policies=policies_from_settings())

    starts = {start for start, _ in _partitions().values()}
    today = _day(timezone.now())
    assert {today + timedelta(days=n) for n in range(11)} <= starts
    # Days, each its own partition, reaching back as far as a gateway may send.
    assert all(end - start == timedelta(days=1) for start, end in _partitions().values())
    assert today - timedelta(days=settings.INGEST_MAX_AGE_DAYS) in starts
    # The roll-ups too: minutes by day, hours by month.
    assert today + timedelta(days=10) in {start for start, _ in _partitions("monitoring_minuterollup").values()}
    months = _partitions("monitoring_hourrollup").values()
    assert today.replace(day=1) in {start for start, _ in months}


def test_maintenance_run_again_changes_nothing():
    partitions_maintain(policies=policies_from_settings())
    before = {table: _partitions(table) for table in ("monitoring_reading", "monitoring_hourrollup")}

    result = partitions_maintain(policies=policies_from_settings())

    assert {table: _partitions(table) for table in before} == before
    assert result.dropped == {"monitoring_reading": 0, "monitoring_minuterollup": 0, "monitoring_hourrollup": 0}


def test_retention_drops_whole_partitions_and_leaves_the_rest_untouched():
    partitions_maintain(policies=_reading_policy(reach_back_days=60))
    sensor = SensorFactory()
    now = timezone.now()
    readings = Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=now - timedelta(days=days), value=float(days)) for days in (1, 5, 31, 40)
    )
    old_partitions = {_partition_of(r.pk) for r in readings[2:]}
    _as_if_committed()

    result = partitions_maintain(policies=_reading_policy(retention_days=30, reach_back_days=60))

    assert sorted(Reading.objects.values_list("value", flat=True)) == [1.0, 5.0]
    with connection.cursor() as cursor:
        # Gone as tables, not emptied row by row.
        for name in old_partitions:
            cursor.execute("SELECT to_regclass(%s)", [name])
            assert cursor.fetchone()[0] is None
    assert result.dropped["monitoring_reading"] >= 29
    oldest = min(start for start, _ in _partitions().values())
    assert oldest >= _day(now - timedelta(days=31))


def test_readings_outside_the_partitions_are_kept_and_get_partitions_of_their_own():
    partitions_maintain(policies=_reading_policy())
    sensor = SensorFactory()
    now = timezone.now()
    far_past = now - timedelta(days=400)
    far_future = now + timedelta(days=90)
    readings = Reading.objects.bulk_create(
        [
            Reading(sensor=sensor, observed_at=far_past, value=1.5),
            Reading(sensor=sensor, observed_at=far_future, value=2.5),
            Reading(sensor=sensor, observed_at=now, value=3.5),
        ]
    )
    assert _partition_of(readings[0].pk) == "monitoring_reading_default"
    assert _partition_of(readings[1].pk) == "monitoring_reading_default"
    _as_if_committed()

    result = partitions_maintain(policies=_reading_policy())

    assert result.moved_from_default["monitoring_reading"] == 2
    stored = {r.pk: (r.observed_at, r.value) for r in Reading.objects.all()}
    assert stored == {r.pk: (r.observed_at, r.value) for r in readings}
    past, future = _partitions()[_partition_of(readings[0].pk)], _partitions()[_partition_of(readings[1].pk)]
    assert past == (_day(far_past), _day(far_past) + timedelta(days=1))
    assert future == (_day(far_future), _day(far_future) + timedelta(days=1))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM monitoring_reading_default")
        assert cursor.fetchone()[0] == 0
    # The stray partition far ahead leaves no gap before it (pg_partman
    # alone would count it as 90 days made ahead and make no more).
    partitions_maintain(policies=_reading_policy(premake=14))
    ahead = {start for start, _ in _partitions().values() if start > _day(now)}
    assert {_day(now) + timedelta(days=n) for n in range(1, 15)} <= ahead
    # A later reading of the same far day goes straight to its partition.
    later = Reading.objects.create(sensor=sensor, observed_at=far_past + timedelta(seconds=1), value=4.5)
    assert _partition_of(later.pk) == _partition_of(readings[0].pk)


def test_one_reading_per_sensor_and_time_across_the_partitioned_table(gateway):
    sensor = SensorFactory(gateway=gateway)
    at = timezone.now() - timedelta(minutes=1)
    first = Reading.objects.create(sensor=sensor, observed_at=at, value=1.0)

    with pytest.raises(IntegrityError), transaction.atomic():
        Reading.objects.create(sensor=sensor, observed_at=at, value=2.0)
    result = readings_ingest(
        gateway=gateway,
        batch=[
            {"sensor": sensor.code, "observed_at": at.isoformat(), "value": 3.0},
            {"sensor": sensor.code, "observed_at": (at + timedelta(seconds=1)).isoformat(), "value": 4.0},
        ],
    )

    assert (result.accepted, result.duplicates) == (1, 1)
    assert Reading.objects.get(observed_at=at).value == 1.0
    # Ids keep growing from the one sequence.
    assert Reading.objects.get(value=4.0).pk > first.pk


def test_the_database_keys_the_readings_by_id_and_time():
    with connection.cursor() as cursor:
        cursor.execute("SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'monitoring_reading'::regclass")
        assert cursor.fetchone() == ("r",)
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'monitoring_reading'::regclass AND contype IN ('p', 'u') ORDER BY conname"
        )
        assert cursor.fetchall() == [
            ("monitoring_reading_pkey", "PRIMARY KEY (id, observed_at)"),
            ("reading_unique_sensor_time", "UNIQUE (sensor_id, observed_at)"),
        ]


def test_beat_keeps_the_partitions_and_the_roll_ups(settings):
    from monitoring import tasks

    tasks_run = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"monitoring.tasks.maintain_partitions", "monitoring.tasks.roll_up_readings"} <= tasks_run
    settings.READING_RETENTION_DAYS = 3

    result = tasks.maintain_partitions()

    assert result["dropped"]["monitoring_reading"] >= 1
    oldest = min(start for start, _ in _partitions().values())
    assert oldest >= _day(timezone.now() - timedelta(days=4))
    assert tasks.roll_up_readings() == 0
