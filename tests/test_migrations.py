import json
import subprocess
import sys
import tarfile
from io import BytesIO, StringIO
from pathlib import Path

import psycopg2
import pytest
from django.core.management import call_command
from django.db import connection

from tests.live import spare_redis_url

ROOT = Path(__file__).resolve().parent.parent

# The last release before departments and districts moved into the
# organisation app: its migrations and its demo city make the "existing
# database" that must migrate forward with its data.
RELEASE_BEFORE_ORGANISATION = "0561503"


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    assert "No changes detected" in out.getvalue()


# Run by the previous release's own code against the old schema: a Level I
# reading on a gas sensor opens a warning, which routes work orders, and
# one department acknowledges its order.
_OLD_RELEASE_ACTIVITY = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from dispatch import services as dispatch_services
from dispatch.models import Membership, WorkOrder
from monitoring.events import readings_stored
from monitoring.models import Sensor
from monitoring.services import readings_ingest
from warning.selectors import rules_for_sensors
from warning.services import sensors_evaluate

readings_stored.receivers.clear()  # no broker here: evaluate in this process
sensor = Sensor.objects.filter(sensor_type__domain__code="gas", owner_department__isnull=False).order_by("pk").first()
rule = rules_for_sensors([sensor])[sensor.pk][0]
value = rule.level1_threshold + (1 if rule.direction == "above" else -1)
at = (timezone.now() - timedelta(minutes=1)).isoformat()
readings_ingest(gateway=sensor.gateway, items=[{"sensor": sensor.code, "observed_at": at, "value": value}])
sensors_evaluate(sensor_ids=[sensor.pk])
order = WorkOrder.objects.order_by("pk").first()
member = Membership.objects.filter(department_id=order.department_id).first()
dispatch_services.work_order_acknowledge(work_order_id=order.pk, user=member.user, note="on our way")
print("work orders:", WorkOrder.objects.count())
# A reading stored but not yet evaluated when the release is stopped.
waiting = Sensor.objects.filter(sensor_type=sensor.sensor_type).exclude(pk=sensor.pk).order_by("pk").first()
readings_ingest(gateway=waiting.gateway, items=[{"sensor": waiting.code, "observed_at": at, "value": value}])
print("waiting:", waiting.pk)
"""

# Each query reads the same rows before (old tables) and after (new tables).
_SNAPSHOT = {
    "districts": "SELECT id, code, name, md5(ST_AsEWKB(boundary)::text) FROM {district} ORDER BY id",
    "departments": "SELECT id, code, name, kind, district_id, email, phone FROM {department} ORDER BY id",
    "memberships": "SELECT id, user_id, department_id FROM {membership} ORDER BY id",
    "sensors": "SELECT id, code, district_id, owner_department_id FROM monitoring_sensor ORDER BY id",
    "work_orders": "SELECT id, warning_id, department_id, status, level FROM dispatch_workorder ORDER BY id",
    "routing": "SELECT routingpolicy_id, department_id FROM dispatch_routingpolicy_departments ORDER BY 1, 2",
    "groups": "SELECT name FROM auth_group ORDER BY name",
}
_OLD_TABLES = {
    "district": "monitoring_district",
    "department": "dispatch_department",
    "membership": "dispatch_membership",
}
_NEW_TABLES = {
    "district": "organisation_district",
    "department": "organisation_department",
    "membership": "organisation_membership",
}


def _snapshot(dsn: str, tables: dict[str, str]) -> dict[str, list]:
    with psycopg2.connect(dsn) as db, db.cursor() as cursor:
        result = {}
        for name, query in _SNAPSHOT.items():
            cursor.execute(query.format(**tables))
            result[name] = cursor.fetchall()
    db.close()
    return result


def _query(dsn: str, sql: str) -> list:
    with psycopg2.connect(dsn) as db, db.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    db.close()
    return rows


def _old_release(destination: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", RELEASE_BEFORE_ORGANISATION],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        pytest.fail(
            f"This test needs the git history back to {RELEASE_BEFORE_ORGANISATION} (a full clone): "
            f"{archive.stderr.decode(errors='replace')}"
        )
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    return destination


@pytest.fixture
def legacy_database(django_db_blocker):
    """A database of its own, beside the test database, dropped afterwards."""
    settings_dict = connection.settings_dict
    name = f"{settings_dict['NAME']}_legacy"
    host, port, user = settings_dict["HOST"] or "127.0.0.1", settings_dict["PORT"] or 5432, settings_dict["USER"]
    admin_dsn = f"host={host} port={port} user={user} dbname=postgres"
    if settings_dict.get("PASSWORD"):
        admin_dsn += f" password={settings_dict['PASSWORD']}"

    def admin(sql: str) -> None:
        db = psycopg2.connect(admin_dsn)
        db.autocommit = True
        with db.cursor() as cursor:
            cursor.execute(sql)
        db.close()

    admin(f'DROP DATABASE IF EXISTS "{name}"')
    admin(f'CREATE DATABASE "{name}"')
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    yield {
        "url": f"postgis://{user}{password}@{host}:{port}/{name}",
        "dsn": admin_dsn.replace("dbname=postgres", f"dbname={name}"),
    }
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(cwd: Path, database_url: str, *args: str) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "citysafety.settings",
        "DEBUG": "1",
        # No task may leave this test: nothing listens on this database of the tests' Redis.
        "REDIS_URL": spare_redis_url(15),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"manage.py {' '.join(args[:1])} failed in {cwd}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_a_database_of_the_previous_release_migrates_forward_with_its_organisation_intact(legacy_database, tmp_path):
    old = _old_release(tmp_path / "old")
    _manage(old, legacy_database["url"], "migrate", "--no-input")
    _manage(old, legacy_database["url"], "load_demo_city")
    activity = _manage(old, legacy_database["url"], "shell", "-c", _OLD_RELEASE_ACTIVITY)
    assert "work orders:" in activity
    waiting = int(activity.rsplit("waiting:", 1)[1].split()[0])
    before = _snapshot(legacy_database["dsn"], _OLD_TABLES)
    assert len(before["departments"]) >= 20
    assert len(before["memberships"]) >= 20
    assert sum(1 for row in before["sensors"] if row[3] is not None) >= 100
    assert len(before["work_orders"]) >= 2
    assert any(row[3] == "acknowledged" for row in before["work_orders"])

    latest_before = _query(
        legacy_database["dsn"],
        "SELECT id, latest_value, latest_observed_at, latest_reading_id FROM monitoring_sensor"
        " WHERE latest_reading_id IS NOT NULL ORDER BY id",
    )
    assert latest_before

    _manage(ROOT, legacy_database["url"], "migrate", "--no-input")

    assert _snapshot(legacy_database["dsn"], _NEW_TABLES) == before
    # Each sensor's latest reading moved to its state row; what the old
    # release had evaluated is not marked for evaluation again.
    states = _query(
        legacy_database["dsn"],
        "SELECT sensor_id, latest_value, latest_observed_at, latest_reading_id, unevaluated_since"
        " FROM monitoring_sensorstate ORDER BY sensor_id",
    )
    assert [row[:4] for row in states] == latest_before
    assert [row[0] for row in states if row[4] is not None] == [waiting]
    # ... and the reading that waited is evaluated by the new release's sweep.
    swept = _manage(
        ROOT,
        legacy_database["url"],
        "shell",
        "-c",
        "from warning.tasks import evaluate_pending_sensors\n"
        "from warning.models import Warning\n"
        "print('swept', evaluate_pending_sensors())\n"
        f"print('level', Warning.objects.get(sensor_id={waiting}).level)",
    )
    assert "swept 1" in swept
    assert "level 1" in swept
    tables = {row[0] for row in _query(legacy_database["dsn"], "SELECT tablename FROM pg_tables")}
    assert not tables & set(_OLD_TABLES.values())
    content_types = _query(
        legacy_database["dsn"],
        "SELECT app_label, model FROM django_content_type WHERE model IN ('district', 'department', 'membership')",
    )
    assert sorted(content_types) == [
        ("organisation", "department"),
        ("organisation", "district"),
        ("organisation", "membership"),
    ]
    # The moved models work through the ORM: relations resolve and new rows
    # take ids after the old ones.
    checked = _manage(
        ROOT,
        legacy_database["url"],
        "shell",
        "-c",
        "import json\n"
        "from dispatch.models import WorkOrder\n"
        "from organisation.models import Department, District\n"
        "from organisation.selectors import department_id_of\n"
        "order = WorkOrder.objects.select_related('department', 'warning__sensor__owner_department').first()\n"
        "member = order.department.memberships.select_related('user').first()\n"
        "new = Department.objects.create(code='new-department', name='New', kind='industry')\n"
        "print(json.dumps({'order_department': order.department.code,\n"
        "    'member_department': department_id_of(member.user) == order.department_id,\n"
        "    'owner': order.warning.sensor.owner_department.code,\n"
        "    'governments': District.objects.filter(government__isnull=False).count(),\n"
        "    'new_id': new.pk}))",
    )
    facts = json.loads(checked.strip().splitlines()[-1])
    assert facts["order_department"] in {row[1] for row in before["departments"]}
    assert facts["member_department"] is True
    assert facts["owner"] in {row[1] for row in before["departments"]}
    assert facts["governments"] == sum(1 for row in before["departments"] if row[4] is not None) > 0
    assert facts["new_id"] > max(row[0] for row in before["departments"])
