"""The suite runs under pytest-xdist: each worker has a test database (a copy
of one migrated template), a Redis server, MQTT topics and a folder for its
servers' logs of its own, and no browser test hides outside tests/e2e (where
its Playwright fixtures live)."""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.db import connection

from tests.live import ROOT

# What each worker of the inner run sees, one JSON file per test.
PROBE = """
import json, os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests import live


@pytest.mark.parametrize("n", range(4))
def test_probe(n, db):
    import redis

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), count(*) FROM django_migrations")
        database, migrations = cursor.fetchone()
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [database.rsplit("_", 1)[0] + "%"])
        databases = sorted(row[0] for row in cursor.fetchall())

    url = live.redis_url_for_tests()
    # The broker and the channel layer of this process use it too.
    assert settings.CELERY_BROKER_URL == url
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] == [url]
    redis.Redis.from_url(url).set("probe", os.environ["PYTEST_XDIST_WORKER"])
    Path(os.environ["PROBE_OUT"], f"{n}.json").write_text(json.dumps({
        "worker": os.environ["PYTEST_XDIST_WORKER"],
        "redis": url,
        "seen": redis.Redis.from_url(url).get("probe").decode(),
        "database": database,
        "migrations": migrations,
        "databases": databases,
        "template": connection.settings_dict["TEST"].get("TEMPLATE"),
        "mqtt": settings.MQTT_TOPIC_PREFIX,
        "child_mqtt": live.child_env()["MQTT_TOPIC_PREFIX"],
        "artifacts": str(live.ARTIFACTS),
    }))
"""


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_each_xdist_worker_has_its_own_redis_database_and_topics(tmp_path, db):
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    # The suite's own conftest: its hooks and fixtures, tests/live.py with them.
    (tmp_path / "conftest.py").write_text("from tests.conftest import *  # noqa: F403\n")
    out = tmp_path / "out"
    out.mkdir()
    # An outer worker's id must not make the inner controller think it is a worker.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    # Databases of the inner run's own, beside this run's.
    base = urlsplit(os.environ.get("DATABASE_URL") or "postgis://postgres@127.0.0.1:5432/citysafety")
    inner = f"{base.path.strip('/')}_probe"
    env.update(
        DATABASE_URL=base._replace(path=f"/{inner}").geturl(),
        PROBE_OUT=str(out),
        # Named explicitly, and still not shared by the workers.
        TEST_REDIS_URL="redis://127.0.0.1:6379/9",
        MQTT_TOPIC_PREFIX="probe/gateways",
    )
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider"),
            *("--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), "-q", str(probe)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    seen = [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]
    assert len(seen) == 4
    by_worker = {entry["worker"]: entry for entry in seen}
    assert sorted(by_worker) == ["gw0", "gw1"], "both workers ran probes"

    for worker, entry in by_worker.items():
        assert entry["seen"] == worker
        assert entry["database"] == f"test_{inner}_{worker}"
        # A copy of the template, migrated once, with every migration recorded.
        assert entry["template"] == f"test_{inner}_template"
        assert f"test_{inner}_template" in entry["databases"]
        assert entry["migrations"] > 0
        assert entry["mqtt"] == entry["child_mqtt"] == f"probe/gateways-{worker}"
        assert Path(entry["artifacts"]) == ROOT / "test-artifacts" / worker
        assert urlsplit(entry["redis"]).port != 6379, "a private server, not the machine's Redis"
    assert len({entry["redis"] for entry in by_worker.values()}) == 2
    assert len({entry["database"] for entry in by_worker.values()}) == 2
    # Every probe of a worker saw the same Redis: one server per worker, for its whole session.
    assert all(entry["redis"] == by_worker[entry["worker"]]["redis"] for entry in seen)
    assert by_worker["gw0"]["migrations"] == by_worker["gw1"]["migrations"]
    # The servers stop with their worker, and the databases with the run.
    assert not any(listening(urlsplit(entry["redis"]).port) for entry in by_worker.values())
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"test_{inner}%"])
        assert cursor.fetchall() == []


def test_browser_tests_live_in_tests_e2e():
    """Their fixtures (Playwright, the browser) are tests/e2e's; elsewhere they
    ran only thanks to the order in which pytest collected the folders."""
    outside = [
        path.relative_to(ROOT)
        for path in (ROOT / "tests").rglob("test_*.py")
        if "e2e" not in path.relative_to(ROOT / "tests").parts
        and re.search(r"pytest\.mark\.e2e\b|\bplaywright\b", path.read_text())
        and path.name != Path(__file__).name
    ]
    assert outside == []
