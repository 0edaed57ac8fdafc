"""What the bench watches while load runs: evaluation lag, queued tasks, CPU.

A thread samples once a second on a database connection of its own (named
``citysafety-bench``, so that its queries are not counted as the
platform's CPU) and keeps the series; a phase reads its window of it.
"""

import threading
import time
from dataclasses import dataclass, field

import psycopg2
import redis

from bench import schema
from bench.stack import BENCH_APPLICATION_NAME, CpuAccount, Stack, process_stat, stack_processes

# Celery's default queue: a Redis list of that name.
CELERY_QUEUE = "celery"
# The whole PostgreSQL server's CPU: other databases' work (other people's
# tests on a shared machine) included.
SERVER_CPU = "PostgreSQL server, all databases"
BACKENDS_CPU = "postgres (backends of the bench database)"
MONITOR_CPU = "postgres (the bench's own sampling)"
MAX_SHARE_INVERSE = 5


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic()
    lag: float
    sensors_behind: int
    exact: bool
    queued_tasks: int
    query_seconds: float
    # What the platform's database sessions were doing: "running", "waiting
    # for Lock:transactionid", "idle in transaction" (the client's time
    # inside a transaction), … → how many sessions.
    sessions: dict[str, int] = field(default_factory=dict)


@dataclass
class Monitor:
    dsn: dict
    database: str
    redis_url: str
    stack: Stack | None = None
    extra_processes: dict[int, str] = field(default_factory=dict)
    interval: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cpu: CpuAccount | None = None
        self._connection = None
        self._redis = redis.Redis.from_url(self.redis_url)

    # -- sampling ------------------------------------------------------------

    def start(self) -> None:
        self._connection = psycopg2.connect(application_name=BENCH_APPLICATION_NAME, **self.dsn)
        self._connection.autocommit = True
        with self._connection.cursor() as cursor:
            # A sample that cannot finish in time is worth less than the load it
            # adds; and one core of two is enough for it.
            cursor.execute("SET statement_timeout = '10s'")
            cursor.execute("SET max_parallel_workers_per_gather = 0")
        self._thread = threading.Thread(target=self._run, name="bench-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._connection is not None:
            self._connection.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                sample = self.sample_once()
                cost = sample.query_seconds
            except Exception as exc:  # a failed sample is recorded, not fatal
                self.errors.append(f"{type(exc).__name__}: {exc}")
                cost = 0.0
                if self._connection is not None and self._connection.closed:
                    self._connection = psycopg2.connect(application_name=BENCH_APPLICATION_NAME, **self.dsn)
                    self._connection.autocommit = True
            # Once a second, or less often when a sample is dear (100,000
            # sensors behind, a bloated sensor table): the monitor must not
            # take more than a fifth of a core from what it measures.
            pause = max(self.interval, MAX_SHARE_INVERSE * cost)
            self._stop.wait(max(0.0, pause - (time.monotonic() - began)))

    def sample_once(self) -> Sample:
        began = time.monotonic()
        with self._connection.cursor() as cursor:
            lag = schema.evaluation_lag(cursor)
        query_seconds = time.monotonic() - began
        try:
            queued = int(self._redis.llen(CELERY_QUEUE))
        except redis.RedisError:
            queued = -1
        sample = Sample(
            began, lag.seconds, lag.sensors_behind, lag.exact, queued, query_seconds, self._session_states()
        )
        with self._lock:
            self.samples.append(sample)
            if self._cpu is not None:
                self._cpu.sample(self.processes())
        return sample

    def _session_states(self) -> dict[str, int]:
        with self._connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT CASE
                         WHEN state = 'active' AND wait_event IS NULL THEN 'running'
                         WHEN state = 'active' THEN 'waiting for ' || wait_event_type || ':' || wait_event
                         ELSE state
                       END,
                       count(*)
                FROM pg_stat_activity
                WHERE datname = %s AND application_name <> %s AND backend_type = 'client backend'
                  AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')
                GROUP BY 1
                """,
                [self.database, BENCH_APPLICATION_NAME],
            )
            return dict(cursor.fetchall())

    def latest(self) -> Sample | None:
        with self._lock:
            return self.samples[-1] if self.samples else None

    def wait_for_sample_after(self, moment: float, timeout: float = 30) -> Sample:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sample = self.latest()
            if sample is not None and sample.at >= moment:
                return sample
            time.sleep(0.1)
        raise TimeoutError("the monitor took no sample")

    def window(self, start: float, end: float) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if start <= s.at <= end]

    # -- CPU -----------------------------------------------------------------

    def processes(self) -> dict[int, str]:
        named = dict(stack_processes(self.stack))
        named.update(self.extra_processes)
        named.update(self._database_backends())
        return named

    def _database_backends(self) -> dict[int, str]:
        if self._connection is None:
            return {}
        with self._connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, application_name = %s FROM pg_stat_activity WHERE datname = %s",
                [BENCH_APPLICATION_NAME, self.database],
            )
            return {pid: MONITOR_CPU if ours else BACKENDS_CPU for pid, ours in cursor.fetchall()}

    def postmaster(self) -> int | None:
        """The PostgreSQL server's main process, when it runs on this machine and we may see it."""
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid(), inet_server_addr()")
            backend, address = cursor.fetchone()
        if address is not None and not str(address).startswith(("127.", "::1")):
            return None
        stat = process_stat(backend)
        return None if stat is None else stat[0]

    def cpu_begin(self) -> None:
        with self._lock:
            self._cpu = CpuAccount(server=self.postmaster(), server_name=SERVER_CPU)
            self._cpu.begin(self.processes())

    def cpu_end(self) -> tuple[dict[str, float], float]:
        """CPU seconds per process group since ``cpu_begin``, and the wall-clock seconds."""
        with self._lock:
            cpu, self._cpu = self._cpu, None
            if cpu is None:
                return {}, 0.0
            seconds = cpu.end(self.processes())
            return seconds, cpu.wall


def lag_summary(samples: list[Sample]) -> dict:
    if not samples:
        return {"samples": 0}
    lags = [s.lag for s in samples]
    return {
        "samples": len(samples),
        "max": max(lags),
        "median": sorted(lags)[len(lags) // 2],
        "max_sensors_behind": max(s.sensors_behind for s in samples),
        "max_queued_tasks": max(s.queued_tasks for s in samples),
        "inexact": sum(1 for s in samples if not s.exact),
        "max_query_seconds": max(s.query_seconds for s in samples),
        "sessions": session_shares(samples),
    }


def session_shares(samples: list[Sample]) -> dict[str, float]:
    """Each session state's share of all the busy sessions seen, most common first."""
    totals: dict[str, int] = {}
    for sample in samples:
        for state, count in sample.sessions.items():
            totals[state] = totals.get(state, 0) + count
    seen = sum(totals.values())
    return {state: n / seen for state, n in sorted(totals.items(), key=lambda i: -i[1])} if seen else {}
