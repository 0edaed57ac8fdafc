"""The bench's bulk writes: history behind ingestion's back, and the COPY floor."""

import pytest
from django.db import connection

from bench import db, schema
from monitoring.models import Reading, Sensor
from tests.factories import SensorFactory, ThresholdRuleFactory

pytestmark = pytest.mark.django_db(transaction=True)


def index_definitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'monitoring_reading'")
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def bench_sensors():
    rule = ThresholdRuleFactory()
    return [SensorFactory(code=db.sensor_code(n), sensor_type=rule.sensor_type) for n in range(3)]


def test_a_large_history_is_written_without_the_secondary_indexes_and_gets_them_back(bench_sensors, monkeypatch):
    before = index_definitions()
    monkeypatch.setattr(db, "BULK_WITHOUT_INDEXES", 1)

    seeded = db.history_seed(target=30, sensors=3, minute=0)

    assert seeded["present"] == Reading.objects.count() == 30
    assert seeded["minute"] == 10
    assert index_definitions() == before
    assert any("UNIQUE" in definition and "(sensor_id, observed_at)" in definition for definition in before)


def test_history_leaves_every_sensor_with_its_latest_reading_and_nothing_to_evaluate(bench_sensors):
    db.history_seed(target=12, sensors=3, minute=0)

    newest = Reading.objects.order_by("-observed_at").first()
    assert set(Sensor.objects.values_list("state__latest_observed_at", flat=True)) == {newest.observed_at}
    with connection.cursor() as cursor:
        assert schema.evaluation_lag(cursor) == schema.Lag(seconds=0.0, sensors_behind=0)


def test_the_copy_floor_copies_into_a_table_of_its_own_and_leaves_nothing_behind(bench_sensors):
    floor = db.copy_floor(rows=2000, sensors=3)

    assert floor["rows"] == 2000
    assert floor["rows_per_second"] > 0
    assert Reading.objects.count() == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_copy_floor')")
        assert cursor.fetchone()[0] is None
