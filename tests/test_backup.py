"""`make backup` and `make restore`: a dump of the test database restored into a
new one holds the data, the readings in their pg_partman partitions included."""

import re
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from monitoring.models import Reading
from tests.factories import SensorFactory
from tests.live import ROOT, child_env


def script(name: str, *arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / name), *arguments],
        cwd=ROOT,
        env={**child_env(), **environment},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def connect(database: str):
    settings = connection.settings_dict
    return psycopg2.connect(
        dbname=database,
        user=settings.get("USER") or "postgres",
        password=settings.get("PASSWORD") or None,
        host=settings.get("HOST") or "127.0.0.1",
        port=settings.get("PORT") or 5432,
    )


@pytest.fixture
def new_database():
    name = f"cs_restore_{uuid.uuid4().hex[:10]}"
    yield name
    admin = connect("postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.mark.django_db(transaction=True)
def test_a_backup_restored_into_a_new_database_holds_the_readings_in_their_partitions(gateway, tmp_path, new_database):
    sensor = SensorFactory(code="GAS-0001", gateway=gateway, name="东区燃气 <1>")
    now = timezone.now()
    Reading.objects.bulk_create(
        [Reading(sensor=sensor, observed_at=now - timedelta(days=day), value=float(day)) for day in range(3)]
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tableoid::regclass::text FROM monitoring_reading")
        partitions = sorted(row[0] for row in cursor.fetchall())
    assert len(partitions) == 3, partitions

    backup = script("backup.sh", BACKUP_DIR=str(tmp_path))
    assert backup.returncode == 0, backup.stderr
    dump = Path(backup.stdout.strip().splitlines()[-1])
    assert dump.parent == tmp_path
    assert re.fullmatch(rf"{connection.settings_dict['NAME']}-\d{{8}}T\d{{6}}Z\.dump", dump.name)
    assert not list(tmp_path.glob("*.partial"))

    restore = script("restore.sh", str(dump), new_database)
    assert restore.returncode == 0, restore.stderr
    assert "3 readings" in restore.stderr

    restored = connect(new_database)
    try:
        with restored.cursor() as cursor:
            cursor.execute("SELECT name FROM monitoring_sensor WHERE code = 'GAS-0001'")
            assert cursor.fetchone() == ("东区燃气 <1>",)
            cursor.execute("SELECT tableoid::regclass::text, value FROM monitoring_reading ORDER BY observed_at")
            rows = cursor.fetchall()
            assert [value for _partition, value in rows] == [2.0, 1.0, 0.0]
            assert sorted({partition for partition, _value in rows}) == partitions
            # pg_partman's configuration came along: it goes on making partitions.
            cursor.execute("SELECT premake FROM partman.part_config WHERE parent_table = 'public.monitoring_reading'")
            assert cursor.fetchone() is not None
            cursor.execute("SELECT PostGIS_Version()")
            assert cursor.fetchone()[0]
    finally:
        restored.close()


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_to_write_into_an_existing_database(tmp_path):
    backup = script("backup.sh", BACKUP_DIR=str(tmp_path))
    assert backup.returncode == 0, backup.stderr
    dump = Path(backup.stdout.strip().splitlines()[-1])

    result = script("restore.sh", str(dump), connection.settings_dict["NAME"])

    assert result.returncode != 0
    assert "exists already" in result.stderr


def test_restore_names_what_is_missing_or_wrong(tmp_path):
    not_a_dump = tmp_path / "notes.txt"
    not_a_dump.write_text("hello")

    assert "usage: make restore FILE=<dump> DB=<new database name>" in script("restore.sh").stderr
    assert "no such dump" in script("restore.sh", str(tmp_path / "gone.dump"), "x").stderr
    assert "DB=bad-name;" in script("restore.sh", str(not_a_dump), "bad-name;").stderr
    assert "is not a dump" in script("restore.sh", str(not_a_dump), "fine_name").stderr


@pytest.mark.django_db(transaction=True)
def test_backup_keeps_the_newest_dumps_only(tmp_path):
    name = connection.settings_dict["NAME"]
    for stamp in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        (tmp_path / f"{name}-{stamp}.dump").write_bytes(b"old")
    other = tmp_path / "another-20260101T000000Z.dump"
    other.write_bytes(b"not ours")

    result = script("backup.sh", BACKUP_DIR=str(tmp_path), BACKUP_KEEP="2")

    assert result.returncode == 0, result.stderr
    kept = sorted(path.name for path in tmp_path.glob(f"{name}-*.dump"))
    assert len(kept) == 2
    assert kept[0] == f"{name}-20260103T000000Z.dump"
    assert other.exists()
