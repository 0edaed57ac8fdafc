"""A database with its readings in one table migrates to the partitioned table, and back."""

import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from django.db import connection

from tests.live import spare_redis_url

ROOT = Path(__file__).resolve().parent.parent.parent

_SEED = """
    INSERT INTO monitoring_riskdomain (code, name, category, sort_order) VALUES ('gas', 'Gas', 'lifeline', 0);
    INSERT INTO monitoring_sensortype (code, name, domain_id, metric, unit, reporting_interval_seconds)
        SELECT 'methane', 'Methane', id, 'methane', '%LEL', 60 FROM monitoring_riskdomain;
    INSERT INTO monitoring_sensor (code, name, sensor_type_id, location, address, is_active, status)
        SELECT 'S' || n, 'Sensor ' || n, t.id, 'SRID=4326;POINT(117.2 31.8)', '', true, 'online'
        FROM monitoring_sensortype AS t, generate_series(1, 3) AS n;
    -- Readings from 400 days ago to two days ahead, every sensor every 6 hours,
    -- and a burst of readings this hour.
    INSERT INTO monitoring_reading (sensor_id, observed_at, value, received_at)
        SELECT s.id, date_trunc('hour', now()) + make_interval(hours => h), (h + s.id) % 13, now()
        FROM monitoring_sensor AS s, generate_series(-400 * 24, 48, 6) AS h
        ORDER BY h, s.id;
    INSERT INTO monitoring_reading (sensor_id, observed_at, value, received_at)
        SELECT s.id, date_trunc('hour', now()) + make_interval(secs => m * 10), m, now()
        FROM monitoring_sensor AS s, generate_series(1, 100) AS m;
    -- The newest reading deleted: its id must not be handed out again.
    DELETE FROM monitoring_reading WHERE id = (SELECT max(id) FROM monitoring_reading);
    INSERT INTO monitoring_sensorstate (sensor_id, latest_reading_id)
        SELECT sensor_id, max(id) FROM monitoring_reading GROUP BY sensor_id;
"""
_READINGS = "SELECT id, sensor_id, observed_at, value, received_at FROM monitoring_reading ORDER BY id"


@pytest.fixture
def database(django_db_blocker):
    """A database of its own beside the test database, dropped afterwards."""
    settings_dict = connection.settings_dict
    name = f"{settings_dict['NAME']}_partitions"
    host, port, user = settings_dict["HOST"] or "127.0.0.1", settings_dict["PORT"] or 5432, settings_dict["USER"]
    admin_dsn = f"host={host} port={port} user={user} dbname=postgres"

    def admin(sql: str) -> None:
        db = psycopg2.connect(admin_dsn)
        db.autocommit = True
        with db.cursor() as cursor:
            cursor.execute(sql)
        db.close()

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    yield {
        "url": f"postgis://{user}@{host}:{port}/{name}",
        "dsn": admin_dsn.replace("dbname=postgres", f"dbname={name}"),
    }
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(url: str, *args: str) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "citysafety.settings",
        "DEBUG": "1",
        "REDIS_URL": spare_redis_url(15),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _sql(dsn: str, sql: str, params: list | None = None) -> list:
    with psycopg2.connect(dsn) as db, db.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else []
    db.close()
    return rows


def _new_reading(dsn: str, sensor_id: int, at: str) -> int:
    return _sql(
        dsn,
        "INSERT INTO monitoring_reading (sensor_id, observed_at, value, received_at)"
        " VALUES (%s, %s, 1.0, now()) RETURNING id",
        [sensor_id, at],
    )[0][0]


def test_readings_move_into_partitions_with_their_ids_and_back(database):
    dsn = database["dsn"]
    _manage(database["url"], "migrate", "monitoring", "0004", "--no-input")
    _sql(dsn, _SEED)
    before = _sql(dsn, _READINGS)
    assert len(before) > 4800
    deleted_id = _sql(dsn, "SELECT last_value FROM monitoring_reading_id_seq")[0][0]
    assert deleted_id > before[-1][0]

    _manage(database["url"], "migrate", "--no-input")

    assert _sql(dsn, _READINGS) == before
    assert _sql(dsn, "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'monitoring_reading'::regclass") == [
        (1,)
    ]
    # Every reading in the partition of its day, none left in the default one.
    assert _sql(dsn, "SELECT count(*) FROM monitoring_reading_default") == [(0,)]
    misplaced = _sql(
        dsn,
        "SELECT count(*) FROM monitoring_reading"
        " WHERE tableoid::regclass::text <> 'monitoring_reading_p' || to_char(observed_at AT TIME ZONE 'UTC', 'YYYY_MM_DD')",
    )
    assert misplaced == [(0,)]
    assert _sql(dsn, "SELECT count(*) FROM partman.show_partitions('public.monitoring_reading')")[0][0] >= 400
    # Ids continue after every id ever handed out; (sensor, time) stays unique.
    sensor_id, observed_at = before[0][1], before[0][2]
    new_id = _new_reading(dsn, sensor_id, "2026-01-01T00:00:07Z")
    assert new_id > deleted_id
    with pytest.raises(psycopg2.errors.UniqueViolation):
        _new_reading(dsn, sensor_id, observed_at.isoformat())
    assert _sql(dsn, "SELECT sensor_id, latest_reading_id FROM monitoring_sensorstate ORDER BY 1") == _sql(
        dsn, "SELECT sensor_id, max(id) FROM monitoring_reading WHERE id < %s GROUP BY 1 ORDER BY 1", [new_id]
    )

    # The readings already stored are rolled up too.
    _manage(
        database["url"],
        "shell",
        "-c",
        "from monitoring.rollups import readings_roll_up\nreadings_roll_up()\nreadings_roll_up()",
    )
    assert _sql(dsn, "SELECT sum(count) FROM monitoring_hourrollup") == [(len(before) + 1,)]
    assert _sql(dsn, "SELECT sum(count) FROM monitoring_minuterollup") == [(len(before) + 1,)]

    _manage(database["url"], "migrate", "monitoring", "0004", "--no-input")

    after = _sql(dsn, _READINGS)
    assert after[:-1] == before
    assert after[-1][0] == new_id
    assert _sql(dsn, "SELECT count(*) FROM pg_partitioned_table") == [(0,)]
    assert _new_reading(dsn, sensor_id, "2026-01-01T00:00:08Z") > new_id
    with pytest.raises(psycopg2.errors.UniqueViolation):
        _new_reading(dsn, sensor_id, observed_at.isoformat())
