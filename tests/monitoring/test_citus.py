"""The Citus step of the migrations, and waiting for the database before them."""

import socket
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from monitoring import citus
from tests.live import ROOT, child_env

pytestmark = pytest.mark.django_db


def test_plain_postgresql_is_no_citus_and_the_distribution_step_does_nothing():
    assert citus.installed(connection) is False
    assert citus.distribute(connection) == []
    with connection.cursor() as cursor:
        # The readings stay one partitioned table with its primary key as made.
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'monitoring_reading'")
        assert cursor.fetchone() == ("p",)
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'monitoring_reading_pkey'"
            " AND conrelid = 'monitoring_reading'::regclass"
        )
        assert cursor.fetchone() == ("PRIMARY KEY (id, observed_at)",)


def test_the_citus_step_is_a_migration_that_ran():
    from django.db.migrations.recorder import MigrationRecorder

    applied = MigrationRecorder(connection).applied_migrations()
    assert ("monitoring", "0007_readings_on_citus") in applied


def test_every_table_to_distribute_exists_and_is_keyed_by_sensor():
    # What Citus requires of a distributed table: each unique key holds the
    # distribution column (the readings' after distribute() adds it).
    with connection.cursor() as cursor:
        for table, column in citus.DISTRIBUTED:
            cursor.execute(
                "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint AS c"
                " WHERE c.conrelid = %s::regclass AND c.contype IN ('p', 'u')",
                [table],
            )
            keys = [row[0] for row in cursor.fetchall()]
            assert keys, table
            for key in keys:
                assert column in key or table in citus._KEYS_WITH_SENSOR, (table, key)


def test_waiting_for_a_database_that_answers_returns_at_once():
    call_command("wait_for_database", timeout=5)


def test_waiting_on_citus_holds_until_the_workers_are_registered(monkeypatch):
    monkeypatch.setattr(citus, "installed", lambda connection=None: True)
    monkeypatch.setattr(citus, "worker_nodes", lambda connection=None: [("citus-worker-1", 5432)])

    with pytest.raises(CommandError, match=r"2 Citus worker node\(s\) \(SELECT citus_add_node"):
        call_command("wait_for_database", timeout=0, citus_workers=2)
    call_command("wait_for_database", timeout=0, citus_workers=1)


def test_waiting_for_a_database_that_never_answers_gives_up_and_says_why():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    environment = child_env() | {"DATABASE_URL": f"postgis://postgres@127.0.0.1:{port}/nowhere"}

    result = subprocess.run(
        [sys.executable, "manage.py", "wait_for_database", "--timeout", "1"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "Gave up after 1 s waiting for the database (" in result.stderr
    assert str(port) in result.stderr
