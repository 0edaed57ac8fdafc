"""Which sensors wait for evaluation: a sorted set in Redis, coalesced,
taken most severe first.

Each stored batch adds its sensors to one sorted set, scored by the level
the sensor's newest value reaches (Level I first, then II, III, then
values that reach none) and, within a level, by when it started waiting.
A sensor that receives ten batches before evaluation reaches it is
evaluated once, for all its new readings, and keeps its best place
(``ZADD … LT``: a score only ever moves forward). A drain takes a chunk at
a time from the front, so a Level I reading stored while 100,000 sensors
wait is in the very next chunk, and two drains in two worker processes
take chunks side by side. At most one drain task waits in the broker at any
time (a flag set with NX), however many batches arrive, and a drain that
finds nothing costs one Redis call.

Redis may lose all of this (a restart, an outage): the database is the
truth, and the periodic sweep (``selectors.sensors_with_unevaluated_readings``)
evaluates whatever a lost mark left behind.
"""

import logging
import time
from functools import cache

import redis
from django.conf import settings

log = logging.getLogger(__name__)

# A sorted set (the set of the previous release had another name: a key of
# the wrong type would fail every mark; the sweep evaluates what it held).
WAITING = "citysafety:evaluation:waiting-by-level"
# Set while a drain task waits in the broker (not yet started). It expires
# soon, in case that task is lost (a purge, a broker restart): a drain that
# merely waits longer than this gets a twin, which takes chunks beside it.
DRAIN_QUEUED = "citysafety:evaluation:drain-queued"
DRAIN_QUEUED_SECONDS = 2
# The rank of a value that reaches no threshold (ranks 1 … 3 are levels).
UNRANKED = 4
# Scores are rank * RANK_STEP + the time the sensor started waiting (Unix
# seconds): any rank goes before every worse one. Exact in a double to a
# microsecond for centuries.
RANK_STEP = 10_000_000_000


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def client() -> redis.Redis:
    # By URL: the tests point the settings at a Redis database of their own.
    return _client(settings.REDIS_URL)


def sensors_mark(ranks: dict[int, int]) -> bool:
    """Add sensors with their ranks (1 … 3 a level, UNRANKED none) to the
    waiting set; True when a drain task must be enqueued.

    A sensor already waiting keeps the better of its place and the new one.
    """
    now = time.time()
    pipe = client().pipeline(transaction=False)
    pipe.zadd(WAITING, {sensor_id: rank * RANK_STEP + now for sensor_id, rank in ranks.items()}, lt=True)
    pipe.set(DRAIN_QUEUED, 1, nx=True, ex=DRAIN_QUEUED_SECONDS)
    _, must_enqueue = pipe.execute()
    return bool(must_enqueue)


def drain_needed() -> bool:
    """True when no drain task waits in the broker: the caller enqueues one."""
    return bool(client().set(DRAIN_QUEUED, 1, nx=True, ex=DRAIN_QUEUED_SECONDS))


def drain_started() -> None:
    """A drain task runs: marks made from now on need another one."""
    client().delete(DRAIN_QUEUED)


def sensors_take(limit: int) -> list[int]:
    """Take up to ``limit`` waiting sensors, most severe first (each is taken by one drain only)."""
    return [int(sensor_id) for sensor_id, _score in client().zpopmin(WAITING, limit)]


def forget() -> None:
    """Drop the waiting set and the flag (the tests' fresh start)."""
    client().delete(WAITING, DRAIN_QUEUED)


def waiting_count() -> int:
    return client().zcard(WAITING)
