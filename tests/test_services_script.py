"""`make run`/`make test` on a machine where nothing listens yet.

The machine running the suite has its servers up (that path is the one the
rest of the suite takes); here the set-up script is pointed at free ports
so it must start private PostgreSQL, Redis and Mosquitto servers of its
own, under the checkout's var/, and stop them again.
"""

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg2
import pytest

from tests.live import ROOT, free_port


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def checkout():
    # World-readable: initdb runs as the postgres user and must reach var/.
    folder = Path(tempfile.mkdtemp(prefix="citysafety-services-"))
    folder.chmod(0o755)
    shutil.copytree(ROOT / "scripts", folder / "scripts")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_private_servers_start_when_nothing_listens_and_stop_again(checkout):
    ports = {"PG_PORT": free_port(), "REDIS_PORT": free_port(), "MQTT_PORT": free_port()}
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", **{k: str(v) for k, v in ports.items()}}

    def services(action: str) -> str:
        done = subprocess.run(
            ["bash", "scripts/services.sh", action], cwd=checkout, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    try:
        started = services("start")
        assert "Starting a private PostgreSQL" in started
        assert "Starting a private Redis" in started
        assert "Starting a private Mosquitto" in started
        assert all(listening(port) for port in ports.values())
        connection = psycopg2.connect(host="127.0.0.1", port=ports["PG_PORT"], user="postgres", dbname="citysafety")
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT PostGIS_Version()")
            assert cursor.fetchone()[0].startswith("3.")
        connection.close()

        again = services("start")
        assert "Starting" not in again
        assert "reusing" in again
    finally:
        services("stop")
    assert not any(listening(port) for port in ports.values())
    assert (checkout / "var" / "pgdata" / "PG_VERSION").exists()
