"""Which sensors wait for evaluation: a set in Redis, coalesced, drained
most severe first.

Each stored batch adds its sensors to one Redis set, so a sensor that
receives ten batches before evaluation reaches it is evaluated once, for all
its new readings. A drain task takes sensors from the set until it is empty;
at most one drain task waits in the broker at any time (a flag set with
NX), however many batches arrive, so a new reading never waits behind a
backlog of tasks, and a drain that finds nothing costs one Redis call.

Redis may lose all of this (a restart, an outage): the database is the
truth, and the periodic sweep (``selectors.sensors_with_unevaluated_readings``)
evaluates whatever a lost mark left behind.
"""

import logging
from functools import cache

import redis
from django.conf import settings

log = logging.getLogger(__name__)

WAITING = "citysafety:evaluation:waiting"
# Set while a drain task waits in the broker (not yet started). It expires
# soon, in case that task is lost (a purge, a broker restart): a drain that
# merely waits longer than this gets a twin, which finds little to do.
DRAIN_QUEUED = "citysafety:evaluation:drain-queued"
DRAIN_QUEUED_SECONDS = 2


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def client() -> redis.Redis:
    # By URL: the tests point the settings at a Redis database of their own.
    return _client(settings.REDIS_URL)


def sensors_mark(sensor_ids: list[int]) -> bool:
    """Add sensors to the waiting set; True when a drain task must be enqueued."""
    pipe = client().pipeline(transaction=False)
    pipe.sadd(WAITING, *sensor_ids)
    pipe.set(DRAIN_QUEUED, 1, nx=True, ex=DRAIN_QUEUED_SECONDS)
    _, must_enqueue = pipe.execute()
    return bool(must_enqueue)


def drain_needed() -> bool:
    """True when no drain task waits in the broker: the caller enqueues one."""
    return bool(client().set(DRAIN_QUEUED, 1, nx=True, ex=DRAIN_QUEUED_SECONDS))


def sensors_return(sensor_ids: list[int]) -> None:
    """Put back sensors a drain took but did not reach (its time was up)."""
    if sensor_ids:
        client().sadd(WAITING, *sensor_ids)


def drain_started() -> None:
    """A drain task runs: marks made from now on need another one."""
    client().delete(DRAIN_QUEUED)


def sensors_take(limit: int) -> list[int]:
    """Take up to ``limit`` waiting sensors (each is taken by one drain only)."""
    return [int(sensor_id) for sensor_id in client().spop(WAITING, limit) or ()]


def forget() -> None:
    """Drop the waiting set and the flag (the tests' fresh start)."""
    client().delete(WAITING, DRAIN_QUEUED)


def waiting_count() -> int:
    return client().scard(WAITING)
