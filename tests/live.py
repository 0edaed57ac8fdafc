"""Real processes for integration tests: daphne, gunicorn and a Celery worker.

They run against the test database (whose name pytest-django decides) and a
Redis database of their own, so a developer's ``make run`` on the same
machine neither feeds nor eats the tests' tasks. Tests that use them must
commit their data: ``@pytest.mark.django_db(transaction=True)``.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "test-artifacts"


def redis_url_for_tests() -> str:
    explicit = os.environ.get("TEST_REDIS_URL")
    if explicit:
        return explicit
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/9", "", ""))


def use_test_redis() -> None:
    """Point this process's broker and channel layer at the tests' Redis DB."""
    from citysafety.celery import app

    url = redis_url_for_tests()
    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }
    app.conf.broker_url = url


def wait_for(
    condition: Callable[[], object], *, timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> object:
    """Poll until ``condition()`` returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env() -> dict[str, str]:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or "5432"
    # A developer's DB_CONN_MAX_AGE would change what the serving tests see.
    env = {
        key: value for key, value in os.environ.items() if key not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "DB_CONN_MAX_AGE"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "citysafety.settings",
            "DATABASE_URL": f"postgis://{user}{password}@{host}:{port}/{db['NAME']}",
            "REDIS_URL": redis_url_for_tests(),
            "CELERY_BROKER_URL": redis_url_for_tests(),
            "CHANNEL_LAYER_REDIS_URL": redis_url_for_tests(),
            "DEBUG": "1",
            # Sockets look their rights up again for every message.
            "LIVE_RIGHTS_TTL_SECONDS": "0",
            # Report photos the browser tests upload stay with the test artefacts.
            "MEDIA_ROOT": str(ARTIFACTS / "media"),
            # A webhook's retries follow each other within a second.
            "WEBHOOK_RETRY_BASE_SECONDS": "0.3",
            # The tests' webhook receivers listen on loopback, which webhooks are otherwise refused.
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@dataclass
class Process:
    popen: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def start(name: str, args: list[str], env: dict[str, str] | None = None) -> Process:
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"{name}.log"
    handle = log.open("w")
    popen = subprocess.Popen(
        args, cwd=ROOT, env={**child_env(), **(env or {})}, stdout=handle, stderr=subprocess.STDOUT
    )
    return Process(popen, log)


@dataclass
class Server:
    process: Process
    url: str
    host: str
    port: int
    # Worker processes serving requests, and the name their database
    # connections carry in pg_stat_activity (empty: not set).
    workers: int = 1
    application_name: str = ""


def wait_listening(process: Process, port: int, name: str) -> None:
    def listening() -> bool:
        if process.popen.poll() is not None:
            pytest.fail(f"{name} died:\n{process.output()[-3000:]}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, timeout=60, what=name)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker) -> Iterator[Process]:
    """A real Celery worker process on the test database."""
    use_test_redis()
    subprocess.run(
        [str(VENV_BIN / "celery"), "-A", "citysafety", "purge", "-f"],
        cwd=ROOT,
        env=child_env(),
        check=False,
        capture_output=True,
        timeout=60,
    )
    from warning import evaluation_queue

    # Purged drain tasks would leave their flag behind.
    evaluation_queue.forget()
    worker = start(
        "celery-worker",
        [
            str(VENV_BIN / "celery"),
            "-A",
            "citysafety",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
            "--hostname=tests@%h",
        ],
    )
    wait_for(lambda: "ready." in worker.output() or worker.popen.poll() is not None, timeout=60, what="celery worker")
    if worker.popen.poll() is not None:
        pytest.fail(f"Celery worker died:\n{worker.output()[-3000:]}")
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def daphne_server(django_db_setup, django_db_blocker) -> Iterator[Server]:
    """daphne serving the ASGI app (HTTP + websockets) on the test database."""
    use_test_redis()
    port = free_port()
    process = start(
        "daphne",
        [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "citysafety.asgi:application"],
    )
    wait_listening(process, port, "daphne")
    yield Server(process=process, url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port)
    process.stop()


@pytest.fixture(scope="session")
def gunicorn_server(django_db_setup, django_db_blocker) -> Iterator[Server]:
    """gunicorn serving the WSGI app on the test database, configured by
    gunicorn.conf.py as `make run` and the compose file configure it."""
    use_test_redis()
    port = free_port()
    workers = 3
    application_name = f"citysafety-tests-gunicorn-{port}"
    process = start(
        "gunicorn",
        [
            str(VENV_BIN / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "-b",
            f"127.0.0.1:{port}",
            "citysafety.wsgi:application",
        ],
        env={
            "WEB_CONCURRENCY": str(workers),
            "DATABASE_URL": f"{child_env()['DATABASE_URL']}?application_name={application_name}",
        },
    )
    wait_listening(process, port, "gunicorn")
    # Every worker, not only the port: tests count on each taking requests.
    wait_for(
        lambda: process.output().count("Worker ready") >= workers or process.popen.poll() is not None,
        timeout=90,
        what="every gunicorn worker to load Django",
    )
    if process.popen.poll() is not None:
        pytest.fail(f"gunicorn died:\n{process.output()[-3000:]}")
    yield Server(
        process=process,
        url=f"http://127.0.0.1:{port}",
        host="127.0.0.1",
        port=port,
        workers=workers,
        application_name=application_name,
    )
    process.stop()
