"""Liveness and readiness: what load balancers, compose health checks and the
duty officers' banner ask of the platform.

Liveness asks nothing of anything: the process answers. Readiness checks the
database, Redis, the Celery broker and the heartbeats of the worker, beat and
the MQTT bridge; each check is named in the answer with its state and age.
"""

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from django.utils.translation import gettext as _

from citysafety.celery import app as celery_app
from citysafety.models import Heartbeat, ProcessKind

logger = logging.getLogger(__name__)

OK, FAILING, STALE, STOPPED, MISSING = "ok", "failing", "stale", "stopped", "missing"
# Seconds a check of Redis or the broker may take: readiness must answer
# before the load balancer's own timeout.
PROBE_TIMEOUT = 2.0


@dataclass
class ProcessState:
    name: str
    state: str
    # Seconds since its last heartbeat.
    age: float
    last_seen: str
    started_at: str
    # When it stopped, or when its heartbeat went stale.
    since: str | None = None


@dataclass
class Check:
    name: str
    state: str
    required: bool
    # Seconds since the newest heartbeat (process checks), or the probe's own
    # duration (database, Redis, broker).
    age: float | None = None
    since: str | None = None
    detail: str = ""
    processes: list[ProcessState] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.state != OK


def _timed(name: str, probe) -> Check:
    started = time.monotonic()
    try:
        probe()
    except Exception as error:
        # Any failure of a dependency is what readiness reports. The answer
        # names the error's kind only: /readyz is unauthenticated, and a
        # driver's message may carry host names and user names.
        logger.warning("Readiness check %s failed: %s", name, error)
        return Check(name, FAILING, name in settings.READINESS_REQUIRED, detail=type(error).__name__)
    return Check(name, OK, name in settings.READINESS_REQUIRED, age=round(time.monotonic() - started, 3))


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


def _broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=PROBE_TIMEOUT)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _processes(kind: ProcessKind, rows: list[Heartbeat], now: datetime) -> Check:
    """A kind of process is fine while at least one of its processes beats.

    The others are listed with their state, so a stopped replica shows
    without making the whole platform unready.
    """
    required = str(kind) in settings.READINESS_REQUIRED
    stale_after = settings.HEARTBEAT_STALE_SECONDS
    processes = []
    for row in rows:
        age = (now - row.beat_at).total_seconds()
        if row.stopped_at:
            state, since = STOPPED, row.stopped_at
        elif age > stale_after:
            state, since = STALE, row.beat_at + timedelta(seconds=stale_after)
        else:
            state, since = OK, None
        processes.append(
            ProcessState(
                name=row.name,
                state=state,
                age=round(age, 1),
                last_seen=row.beat_at.isoformat(),
                started_at=row.started_at.isoformat(),
                since=_iso(since),
            )
        )
    if not processes:
        return Check(
            str(kind), MISSING, required, detail=_("No %(process)s has ever reported.") % {"process": kind.label}
        )
    newest = min(processes, key=lambda process: process.age)
    if any(process.state == OK for process in processes):
        return Check(str(kind), OK, required, age=newest.age, processes=processes)
    down = sorted(processes, key=lambda process: process.age)
    names = ", ".join(process.name for process in down)
    detail = _("%(process)s not running: %(names)s.") % {"process": kind.label, "names": names}
    # Since when the kind as a whole is down: the moment its last process went.
    last_gone = max(down, key=lambda process: process.since or "")
    return Check(
        str(kind), last_gone.state, required, age=newest.age, since=last_gone.since, detail=detail, processes=processes
    )


def process_checks() -> list[Check]:
    """The worker, beat and bridge, from their heartbeats (one query)."""
    now = timezone.now()
    rows = list(Heartbeat.objects.order_by("kind", "name"))
    return [_processes(kind, [row for row in rows if row.kind == kind], now) for kind in ProcessKind]


def readiness() -> tuple[bool, list[Check]]:
    """(ready, every check). Ready when no required check fails."""
    checks = [_timed("database", _database), _timed("redis", _redis), _timed("broker", _broker)]
    if checks[0].failed:
        # Without the database no heartbeat can be read: say so per process.
        checks += [
            Check(
                str(kind), FAILING, str(kind) in settings.READINESS_REQUIRED, detail=_("The database is unavailable.")
            )
            for kind in ProcessKind
        ]
    else:
        try:
            checks += process_checks()
        except DatabaseError as error:
            logger.warning("Readiness could not read the heartbeats: %s", error)
            checks += [
                Check(str(kind), FAILING, str(kind) in settings.READINESS_REQUIRED, detail=type(error).__name__)
                for kind in ProcessKind
            ]
    ready = not any(check.failed and check.required for check in checks)
    return ready, checks


def as_json(check: Check) -> dict:
    answer = asdict(check)
    if not check.processes:
        answer.pop("processes")
    return answer
