"""Real processes for integration tests: Redis, daphne, gunicorn and a Celery worker.

They run against the test database (whose name pytest-django decides, with
the xdist worker's id appended under ``pytest -n``) and a Redis server of
their own, so a developer's ``make run``, another pytest run on the same
machine and the other workers of this run neither feed nor eat the tests'
tasks. Tests that use them must commit their data:
``@pytest.mark.django_db(transaction=True)``.

Each pytest process that runs tests (the only one, or each xdist worker)
starts a private ``redis-server`` on a free port when it configures, and
stops it when it ends; ``TEST_REDIS_URL`` replaces it in a run without
xdist (a CI without redis-server, or a developer's choice). Under xdist it
is ignored: one Redis database shared by the workers is exactly the
collision the private servers avoid.
"""

import atexit
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection, connections

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# "gw0", "gw1"... in an xdist worker; empty in a run without xdist.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
# Shared by every worker: files named for their test (the browser tests'
# screenshots) cannot collide and are easier to find in one place.
ARTIFACTS_ROOT = ROOT / "test-artifacts"
# This process's own: the servers' logs and uploads carry fixed names.
ARTIFACTS = ARTIFACTS_ROOT / WORKER if WORKER else ARTIFACTS_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server for this pytest process alone: nothing saved, nothing shared."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="citysafety-tests-redis-"))
        self.popen: subprocess.Popen | None = None
        self.url = ""
        # free_port() only proposes a port: another process may take it
        # before redis-server binds it, so a few tries.
        for _ in range(5):
            port = free_port()
            if self._start(port):
                self.url = f"redis://127.0.0.1:{port}/0"
                return
        log = (self.folder / "redis.log").read_text(errors="replace")
        self.stop()
        raise pytest.UsageError(f"could not start a private redis-server for the tests:\n{log[-2000:]}")

    def _start(self, port: int) -> bool:
        import redis

        with (self.folder / "redis.log").open("w") as log:
            self.popen = subprocess.Popen(
                [
                    *("redis-server", "--bind", "127.0.0.1", "--port", str(port)),
                    *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 15
        try:
            while time.monotonic() < deadline and self.popen.poll() is None:
                try:
                    if client.ping():
                        return True
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        return False

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)


_private_redis: PrivateRedis | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _private_redis
    # The xdist controller runs no test: its workers start their own.
    controller = bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")
    if controller:
        # The workers inherit it: it names this run's template database lock.
        os.environ[RUN_VARIABLE] = uuid.uuid4().hex
        return
    if WORKER or not os.environ.get("TEST_REDIS_URL"):
        if shutil.which("redis-server") is None:
            raise pytest.UsageError("the tests start a redis-server of their own: install redis-server (`make setup`)")
        _private_redis = PrivateRedis()
        atexit.register(_private_redis.stop)
    if WORKER:
        # The session's servers and bridges subscribe to topics of this worker alone.
        prefix = f"{os.environ.get('MQTT_TOPIC_PREFIX', settings.MQTT_TOPIC_PREFIX)}-{WORKER}"
        os.environ["MQTT_TOPIC_PREFIX"] = settings.MQTT_TOPIC_PREFIX = prefix
    # Everything this process enqueues or pushes goes to the tests' own Redis.
    use_test_redis()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _private_redis is not None:
        _private_redis.stop()
    run = os.environ.get(RUN_VARIABLE)
    if run and not hasattr(config, "workerinput"):
        # The controller outlives every worker: nobody clones the template any more.
        _drop_database(template_database_name())
        Path(tempfile.gettempdir(), f"citysafety-tests-{run}.lock").unlink(missing_ok=True)


# --- One migration for all the workers ----------------------------------------------
#
# Each worker needs a test database. Migrating one per worker costs as many
# full migrations as there are workers, on two cores; the first worker that
# needs one migrates a template, and every worker's database is PostgreSQL's
# copy of it (CREATE DATABASE ... TEMPLATE), after which Django's migrate
# finds nothing left to apply.

RUN_VARIABLE = "CITYSAFETY_TEST_RUN"


def template_database_name() -> str:
    """Named for the database the run's databases are named for, not for the run: a
    killed run's template is replaced by the next, never left to pile up."""
    name = settings.DATABASES["default"]["NAME"]
    return f"test_{name}_template"


def _drop_database(name: str) -> None:
    # psycopg2 itself: pytest-django blocks the ORM's connections outside tests.
    import psycopg2

    db = settings.DATABASES["default"]
    admin = psycopg2.connect(
        dbname="postgres",
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or "5432",
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
    )
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def use_a_template_database(*, keepdb: bool) -> None:
    """Under xdist, make this worker's test database a copy of the run's template,
    migrating the template first if no worker has yet (the lock orders them)."""
    run = os.environ.get(RUN_VARIABLE)
    if not WORKER or not run or keepdb:
        return
    template = template_database_name()
    lock = Path(tempfile.gettempdir(), f"citysafety-tests-{run}.lock")
    with lock.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        if handle.read() != template:
            _migrate_template(template)
            handle.write(template)
            handle.flush()
    connection.settings_dict["TEST"]["TEMPLATE"] = template


def _migrate_template(template: str) -> None:
    test = connection.settings_dict["TEST"]
    name, test_name = connection.settings_dict["NAME"], test.get("NAME")
    test["NAME"] = template
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    finally:
        # create_test_db points the connection at what it created; the
        # worker's own database is still to be made.
        connections.close_all()
        settings.DATABASES["default"]["NAME"] = connection.settings_dict["NAME"] = name
        test["NAME"] = test_name


def redis_url_for_tests() -> str:
    if _private_redis is not None:
        return _private_redis.url
    explicit = os.environ.get("TEST_REDIS_URL")
    if explicit:
        return explicit
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/9", "", ""))


def spare_redis_url(database: int) -> str:
    """Another database of the tests' Redis server, which the session's
    processes never use: for a stack of its own (`make run`), or for commands
    that must be able to enqueue but whose tasks nobody should run."""
    parts = urlsplit(redis_url_for_tests())
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", "", ""))


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
            # One heartbeat at start, then none for an hour: a test of
            # readiness that stops its own worker finds no other one fresh.
            "HEARTBEAT_SECONDS": "3600",
            "HEARTBEAT_STALE_SECONDS": "7200",
            # Tests scrape /metrics of the servers they start over the loopback.
            "METRICS_ALLOWED_NETWORKS": "127.0.0.0/8",
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
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
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
