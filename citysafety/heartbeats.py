"""Heartbeats of the background processes: written here, read by ``citysafety.health``.

Each process runs one daemon thread that updates its row every
HEARTBEAT_SECONDS. A thread and not a periodic task: a task run by the worker
would prove that beat and the worker both live, but could not say which of
the two died.
"""

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from citysafety.models import Heartbeat, ProcessKind

logger = logging.getLogger(__name__)


def heartbeat_record(*, kind: ProcessKind, name: str, started_at=None) -> None:
    """Mark the process alive now (and not stopped)."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(
        kind=kind,
        name=name,
        defaults={"beat_at": now, "stopped_at": None},
        create_defaults={"beat_at": now, "started_at": started_at or now},
    )


def heartbeat_stop(*, kind: ProcessKind, name: str) -> None:
    """Mark the process stopped: readiness names it at once."""
    Heartbeat.objects.filter(kind=kind, name=name).update(stopped_at=timezone.now())


class Pacemaker:
    """The thread that keeps one process's heartbeat fresh."""

    def __init__(
        self, *, kind: ProcessKind, name: str, interval: float | None = None, alive: Callable[[], bool] | None = None
    ):
        self.kind, self.name = kind, name
        # Beats are skipped while this says no (the bridge, cut off from
        # its broker): the heartbeat then goes stale and readiness says so.
        self.alive = alive
        self.interval = interval or settings.HEARTBEAT_SECONDS
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{kind}", daemon=True)
        self.started_at = timezone.now()

    def start(self) -> "Pacemaker":
        # A restarted process starts a new life: its start time is now.
        try:
            Heartbeat.objects.filter(kind=self.kind, name=self.name).update(started_at=self.started_at)
        except DatabaseError:
            logger.warning("Could not record the start of %s %s", self.kind, self.name, exc_info=True)
        finally:
            connection.close()
        self._thread.start()
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._stopping.set()
        self._thread.join(timeout=10)
        try:
            heartbeat_stop(kind=self.kind, name=self.name)
        except DatabaseError:
            logger.warning("Could not record the stop of %s %s", self.kind, self.name, exc_info=True)
        finally:
            connection.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            # A connection the database dropped since the last beat is
            # replaced rather than failing every beat from now on.
            close_old_connections()
            if self.alive is not None and not self.alive():
                self._stopping.wait(self.interval)
                continue
            try:
                heartbeat_record(kind=self.kind, name=self.name, started_at=self.started_at)
            except DatabaseError:
                # The database being away is what readiness reports; the
                # next beat tries again.
                logger.warning("Heartbeat of %s %s not written", self.kind, self.name, exc_info=True)
                connection.close()
            self._stopping.wait(self.interval)
        connection.close()
