"""In-process figures: the ingest path and evaluation without servers in between.

What ``bench/run.py`` measured before the benchmark started the stack:
batches of 1,000 through the full API view (Django's test client), split
into its steps (JSON parsing, the ingest service), then evaluation of what
was stored. Also per-reading costs at a given history size.
"""

import statistics
import time
from datetime import UTC, datetime, timedelta

from django.db import connection

from bench import schema
from bench.db import GatewayShare, Population, sensor_ids
from bench.loadgen import Gateway, batch_body, sensor_code


def _bodies(
    gateways: list[GatewayShare], *, batches: int, start: datetime, seed: int
) -> list[tuple[GatewayShare, str]]:
    """``batches`` bodies, gateway after gateway; every (sensor, time) new from ``start`` on."""
    bodies = []
    for n in range(batches):
        share = gateways[n % len(gateways)]
        when = (start + timedelta(milliseconds=10 * n)).isoformat()
        bodies.append((share, batch_body(Gateway(share.code, share.token, share.first, share.count), when, seed + n)))
    return bodies


def ingest_through_view(bodies: list[tuple[GatewayShare, str]], client=None) -> list[float]:
    """Seconds per batch posted through the whole API view (authentication, parsing, service, answer)."""
    from django.test import Client

    client = client or Client(HTTP_HOST="127.0.0.1")
    timings = []
    for share, body in bodies:
        began = time.perf_counter()
        response = client.post(
            "/api/v1/readings/", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {share.token}"
        )
        timings.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise RuntimeError(f"the in-process batch was refused: {response.status_code} {response.content[:300]!r}")
    return timings


def warm_up(gateways: list[GatewayShare], *, before: datetime) -> None:
    """What a running server has done long before the figures count.

    A process's first request imports the URLconf and the views (a third
    of a second), and a sensor's first reading writes its state row (four
    queries instead of two, a batch twice as slow): both once in a
    sensor's or a worker's life, not the cost of a batch. Measured first,
    on sensors never seen, the view was 2.5 times the service that followed
    it on warm ones.
    """
    from django.test import Client

    Client(HTTP_HOST="127.0.0.1").post(
        "/api/v1/readings/",
        data="[]",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {gateways[0].token}",
    )
    ingest_service_only(_bodies(gateways, batches=len(gateways), start=before, seed=7))


def parse_only(bodies: list[tuple[GatewayShare, str]]) -> float:
    from monitoring.ingest import load_json

    began = time.perf_counter()
    for _, body in bodies:
        load_json(body.encode())
    return time.perf_counter() - began


def ingest_service_only(bodies: list[tuple[GatewayShare, str]]) -> float:
    """Seconds for the ingest service alone on parsed batches (no HTTP, no parsing)."""
    return sum(_service_timings(_parsed(bodies)))


def _parsed(bodies: list[tuple[GatewayShare, str]]) -> list:
    from monitoring.ingest import load_json
    from monitoring.models import Gateway as GatewayModel

    gateways = {g.code: g.pk for g in GatewayModel.objects.filter(code__in={share.code for share, _ in bodies})}
    return [(gateways[share.code], load_json(body.encode())) for share, body in bodies]


def _service_timings(parsed: list) -> list[float]:
    from monitoring.models import Gateway as GatewayModel
    from monitoring.services import readings_ingest

    timings = []
    for gateway_id, batch in parsed:
        began = time.perf_counter()
        # Fetched for each batch, as the view's authentication does.
        readings_ingest(gateway=GatewayModel.objects.get(pk=gateway_id), batch=batch)
        timings.append(time.perf_counter() - began)
    return timings


def evaluate(codes: list[str]) -> tuple[float, int]:
    """Evaluate the new readings of these sensors in-process; (seconds, readings evaluated)."""
    from warning.services import sensors_evaluate

    ids = sensor_ids(codes)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(min(last_reading_id), 0) FROM warning_rulestate WHERE sensor_id = ANY(%s)", [ids]
        )
        floor = cursor.fetchone()[0]
        before = schema.readings_evaluated(cursor, after_id=floor)
    began = time.perf_counter()
    sensors_evaluate(sensor_ids=ids)
    elapsed = time.perf_counter() - began
    with connection.cursor() as cursor:
        after = schema.readings_evaluated(cursor, after_id=floor)
    return elapsed, after - before


def codes_of(bodies: list[tuple[GatewayShare, str]]) -> list[str]:
    codes = set()
    for share, _ in bodies:
        codes.update(sensor_code(share.first + i) for i in range(share.count))
    return sorted(codes)


def measure(
    population: Population, *, batches: int, sensors: int, steps: bool = True, start: datetime | None = None
) -> dict:
    """The in-process figures on the first ``sensors`` sensors: ingest (whole, and by step) and evaluation."""
    gateways = population.gateways_for(sensors)
    # Spread over the sensors present, so that a history measurement touches
    # the whole table rather than its first block.
    stride = max(1, len(gateways) // batches)
    chosen = gateways[::stride] or gateways
    start = start or datetime.now(UTC) - timedelta(minutes=10)
    warm_up(chosen, before=start - timedelta(minutes=1))
    view_bodies = _bodies(chosen, batches=batches, start=start, seed=0)
    service_bodies = _bodies(chosen, batches=batches, start=start + timedelta(seconds=30), seed=batches)
    readings = sum(share.count for share, _ in view_bodies)
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    parsed = _parsed(service_bodies) if steps else []
    timings, service_timings = [], []
    # Like with like: the same gateways' batches by turns, so that both
    # paths meet the same table, caches and autovacuum.
    for n, body in enumerate(view_bodies):
        timings += ingest_through_view([body], client)
        if steps:
            service_timings += _service_timings(parsed[n : n + 1])
    parse_seconds = parse_only(view_bodies) if steps else None
    service_seconds = sum(service_timings) if steps else None
    eval_seconds, evaluated = evaluate(codes_of(view_bodies))
    return {
        "batches": batches,
        "readings": readings,
        "view_seconds": sum(timings),
        "view_rate": readings / sum(timings),
        "batch_median": statistics.median(timings),
        "batch_p95": sorted(timings)[max(0, int(len(timings) * 0.95) - 1)],
        "parse_rate": readings / parse_seconds if parse_seconds else None,
        "service_rate": readings / service_seconds if service_seconds else None,
        "evaluation_seconds": eval_seconds,
        "evaluated": evaluated,
        "evaluation_rate": evaluated / eval_seconds if eval_seconds else None,
    }
