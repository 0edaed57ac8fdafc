"""`make run`, then the dashboard, as a new user would see it.

Runs the real command on a database of its own (new, so what the page shows
comes from this run alone, and named for this run, so another pytest worker
or another run on the machine never shares it), on a Redis database and MQTT
topics of its own, with the simulator told to start a gas leak at once, and
watches the incident arrive on the one map live.
"""

import os
import signal
import subprocess
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.live import ARTIFACTS, ROOT, free_port, spare_redis_url, wait_for

pytestmark = pytest.mark.e2e


def drop_database(name: str) -> None:
    db = settings.DATABASES["default"]
    host, port, user = db.get("HOST") or "127.0.0.1", db.get("PORT") or "5432", db.get("USER") or "postgres"
    admin = psycopg2.connect(dbname="postgres", host=host, port=port, user=user, password=db.get("PASSWORD") or None)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def database_url(name: str) -> str:
    """A database that does not exist yet: `make run` creates it."""
    db = settings.DATABASES["default"]
    host, port, user = db.get("HOST") or "127.0.0.1", db.get("PORT") or "5432", db.get("USER") or "postgres"
    return f"postgis://{user}@{host}:{port}/{name}"


def processes_of_this_run(marker: str) -> list[int]:
    """Every live process whose environment carries this run's marker."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return pids


def test_make_run_shows_the_demo_city_and_its_incidents_live(new_context, shoot):
    port = free_port()
    ingest_port = free_port()
    while ingest_port == port:
        ingest_port = free_port()
    marker = f"make-run-{uuid.uuid4().hex[:8]}"
    db_name = f"citysafety_{marker.replace('-', '_')}"
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        {
            "PORT": str(port),
            "INGEST_PORT": str(ingest_port),
            "DATABASE_URL": database_url(db_name),
            # A database of the tests' own Redis server that the session's worker does not consume.
            "REDIS_URL": spare_redis_url(10),
            # Its own MQTT topics: a developer's `make run` may share the broker.
            "MQTT_TOPIC_PREFIX": f"{marker}/gateways",
            "SIMULATOR_ARGS": "--interval 2 --incident gas_leak --incident-every 600",
        }
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "make-run.log"
    with log_path.open("w") as log:
        make = subprocess.Popen(
            ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(
            lambda: "is running at" in log_path.read_text() or make.poll() is not None,
            timeout=300,
            interval=0.5,
            what="make run to print its URL",
        )
        assert make.poll() is None, log_path.read_text()[-3000:]
        url = f"http://127.0.0.1:{port}"
        banner = log_path.read_text()
        assert f"{url}/" in banner
        assert f"http://127.0.0.1:{ingest_port}/api/v1/readings/" in banner
        assert "DEBUG off" in banner
        assert "citysafety-duty" in banner

        page = new_context().new_page()
        log_in(page, url, "duty", "citysafety-duty")
        expect(page).to_have_url(f"{url}/dashboard/")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
        # The demo city: 600 sensors on the map, drawn over Hefei's districts.
        expect(page.locator("#sensor-summary")).to_contain_text("600", timeout=30_000)
        shoot(page, "01-demo-city")

        # The simulator's gas leak climbs to Level I and shows up without a reload.
        red = page.locator(".warning-item[data-level='1']")
        expect(red.first).to_be_visible(timeout=120_000)
        expect(page.locator("[data-counter-level='1'] [data-count]")).not_to_have_text("0")
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        shoot(page, "02-incident-live")
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGINT)
        make.wait(timeout=90)
        drop_database(db_name)
    assert "Stopped" in log_path.read_text()
    # Ctrl-C leaves nothing behind: web, api, worker, beat, bridge and simulator are gone.
    wait_for(lambda: not processes_of_this_run(marker), timeout=30, what="every process of the run to stop")
