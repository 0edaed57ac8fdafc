"""Profiles of the hot paths, in-process, on a database of their own.

``python -m bench.profile drain|ingest|view`` seeds a fresh database (the
bench's, or ``--database``), stores readings and profiles one path with
cProfile: a drain of the evaluation queue, ingestion of batches of 1,000
(through the API view and through the service alone), or the API view's
share of ingestion (``view``: both paths cold and warm, in either order,
then the view alone). It prints wall time,
CPU time of this process, the queries made and their time, and the
functions that took the most time, so a before/after ratio can be taken
in the same conditions. CPU time is less disturbed than wall time by
whatever else runs on the machine.
"""

import argparse
import cProfile
import importlib
import io
import os
import pstats
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class QueryClock:
    """Counts the queries of Django's connection and the wall time spent in them."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.by_statement: dict[str, list] = {}

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - began
            self.count += 1
            self.seconds += elapsed
            key = " ".join(sql.split())[:90]
            entry = self.by_statement.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] += elapsed

    def table(self) -> str:
        rows = sorted(self.by_statement.items(), key=lambda item: -item[1][1])
        return "\n".join(f"  {seconds:7.3f} s {count:5d} x  {sql}" for sql, (count, seconds) in rows)


class Measured:
    """What ``measured`` found, for figures per unit of work once the block is done."""

    clock: QueryClock
    wall: float = 0.0


@contextmanager
def measured(title: str, *, top: int, profile: bool = True):
    from django.db import connection

    clock = QueryClock()
    result = Measured()
    result.clock = clock
    profiler = cProfile.Profile() if profile else None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    backend_cpu = _process_cpu(backend)
    wall, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(clock):
        if profiler:
            profiler.enable()
        yield result
        if profiler:
            profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    result.wall = wall
    backend_cpu = _process_cpu(backend) - backend_cpu
    print(
        f"\n== {title}: wall {wall:.3f} s, CPU of this process {cpu:.3f} s, of its PostgreSQL backend "
        f"{backend_cpu:.3f} s, "
        f"{clock.count} queries taking {clock.seconds:.3f} s (wall); load average {os.getloadavg()[0]:.2f}"
    )
    print(clock.table())
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(top)
        out.write("\n-- by own time --\n")
        stats.sort_stats("tottime").print_stats(top)
        print(out.getvalue())


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process on this machine, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def setup(database: str, sensors: int):
    os.environ["DATABASE_URL"] = database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citysafety.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False
    # Readings are stored before any is evaluated: no backpressure here.
    settings.INGEST_MAX_EVALUATION_LAG_SECONDS = 0
    from bench import db
    from monitoring.events import readings_stored

    # Nothing goes to a broker: this process evaluates by itself.
    readings_stored.receivers.clear()
    db.database_recreate(database)
    db.migrate()
    population = db.Population()
    db.population_seed(population, sensors=sensors)
    if os.environ.get("PROFILE_SETUP_SQL"):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(Path(os.environ["PROFILE_SETUP_SQL"]).read_text())
            cursor.execute("VACUUM FULL warning_rulestate")
    return population


def store(population, *, per_sensor: int, sensors: int) -> int:
    """Store ``per_sensor`` readings for each of the first ``sensors`` sensors through the ingest service."""
    from bench.inprocess import _bodies
    from monitoring.ingest import load_json
    from monitoring.models import Gateway
    from monitoring.services import readings_ingest

    gateways = population.gateways_for(sensors)
    models = {g.code: g for g in Gateway.objects.filter(code__in=[share.code for share in gateways])}
    start = datetime.now(UTC) - timedelta(minutes=5)
    stored = 0
    for round_ in range(per_sensor):
        for share, body in _bodies(
            gateways, batches=len(gateways), start=start + timedelta(seconds=round_), seed=round_
        ):
            stored += readings_ingest(gateway=models[share.code], batch=load_json(body.encode())).accepted
    return stored


def drain(args) -> None:
    population = setup(args.database, args.sensors)
    from django.db import connection

    from warning import evaluation_queue, services
    from warning.models import WarningTransition

    # Modules the hot path imports on first use (the push's serializers, the
    # tasks): a worker has them loaded, so their import is not profiled.
    for module in ("warning.api.serializers", "dispatch.api.serializers", "dispatch.tasks", "notifications.tasks"):
        importlib.import_module(module)

    run = uuid.uuid4().hex[:8]
    evaluation_queue.WAITING = f"profile:{run}:waiting"
    evaluation_queue.DRAIN_QUEUED = f"profile:{run}:drain-queued"
    try:
        for round_ in range(args.rounds):
            stored = store(population, per_sensor=args.per_sensor, sensors=args.sensors)
            with connection.cursor() as cursor:
                cursor.execute("SELECT sensor_id FROM monitoring_sensorstate WHERE unevaluated_since IS NOT NULL")
                ids = sorted(row[0] for row in cursor)
                if args.warning_sensors:
                    # Their readings alternate Level I and normal: a warning
                    # opens, recovers and is reactivated (the probe's pattern).
                    cursor.execute(
                        "UPDATE monitoring_reading SET value = CASE WHEN id %% 2 = 0 THEN 80 ELSE 1 END"
                        " WHERE sensor_id = ANY(%s) AND received_at > now() - interval '10 minutes'",
                        [ids[: args.warning_sensors]],
                    )
                cursor.execute("VACUUM ANALYZE monitoring_sensorstate")
                cursor.execute("ANALYZE warning_rulestate")
            if hasattr(services, "sensors_enqueue"):
                services.sensors_enqueue(sensor_ids=ids)
            else:  # the release before ranking at ingest, for a before/after ratio
                evaluation_queue.sensors_mark(ids)
            before = WarningTransition.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            with measured(
                f"drain {round_ + 1}: {len(ids):,} sensors, {stored:,} readings", top=args.top, profile=args.profile
            ) as result:
                evaluated = services.sensors_drain(budget_seconds=3600)
            print(f"evaluated {evaluated:,} sensors")
            _per_opened_warning(result, WarningTransition, before)
    finally:
        evaluation_queue.forget()


def _per_opened_warning(result: Measured, transitions, after_id: int) -> None:
    """The drain's queries and wall time shared out over the warnings it opened.

    Routing and pushing run for opened warnings; the rest of the drain is
    the chunks' own cost, the same with or without warnings, so a before/
    after ratio of these figures is taken with the same ``--warning-sensors``.
    Work left for the worker (the announcement's task) is not in them.
    """
    opened = transitions.objects.filter(pk__gt=after_id, kind="opened").count()
    if opened:
        print(
            f"per opened warning ({opened:,} opened): {result.clock.count / opened:.1f} queries, "
            f"{result.wall / opened * 1000:.1f} ms wall"
        )


def ingest(args) -> None:
    population = setup(args.database, args.sensors)
    from bench import inprocess
    from monitoring.ingest import load_json
    from monitoring.models import Gateway
    from monitoring.services import readings_ingest

    gateways = population.gateways_for(args.sensors)
    start = datetime.now(UTC) - timedelta(minutes=10)
    bodies = inprocess._bodies(gateways, batches=args.batches, start=start, seed=0)
    # Warm up: the first batch of each gateway creates its sensors' state rows.
    inprocess.ingest_through_view(
        inprocess._bodies(gateways, batches=len(gateways), start=start - timedelta(1), seed=9)
    )
    with measured(f"ingest through the view: {args.batches} batches of 1,000", top=args.top, profile=args.profile):
        inprocess.ingest_through_view(bodies)
    models = {g.code: g for g in Gateway.objects.all()}
    parsed = [
        (models[share.code], load_json(body.encode()))
        for share, body in inprocess._bodies(
            gateways, batches=args.batches, start=start + timedelta(seconds=30), seed=1
        )
    ]
    with measured(f"ingest service alone: {args.batches} batches of 1,000", top=args.top, profile=args.profile):
        for gateway, batch in parsed:
            readings_ingest(gateway=gateway, batch=batch)


def view(args) -> None:
    """Where the API view spends its time beyond the ingest service's.

    First the measurement itself: both paths on the same kind of batches
    (1,000 readings of one gateway, every (sensor, time) new), cold (the
    sensors' state rows not yet written, each path on its own half of the
    gateways) and warm, in either order; then the view alone, profiled.
    """
    population = setup(args.database, args.sensors)
    from bench import inprocess
    from monitoring.ingest import load_json
    from monitoring.models import Gateway
    from monitoring.services import readings_ingest

    gateways = population.gateways_for(args.sensors)
    if len(gateways) < 2:
        raise SystemExit("view: --sensors must give at least two gateways (1,000 sensors each)")
    start = datetime.now(UTC) - timedelta(minutes=30)
    seeds = iter(range(1, 10_000))

    def bodies(shares, batches: int, minute: int):
        return inprocess._bodies(
            shares, batches=batches, start=start + timedelta(minutes=minute), seed=next(seeds) * 1000
        )

    models = {g.code: g for g in Gateway.objects.all()}

    def run(title: str, path: str, batch_bodies, *, profile: bool = False) -> None:
        # The service takes parsed batches, parsed outside the measurement,
        # and gateways fetched afresh, as the view's authentication does.
        parsed = [(models[share.code].pk, load_json(body.encode())) for share, body in batch_bodies]
        with measured(title, top=args.top, profile=profile) as result:
            if path == "view":
                inprocess.ingest_through_view(batch_bodies)
            else:
                for gateway_id, batch in parsed:
                    readings_ingest(gateway=Gateway.objects.get(pk=gateway_id), batch=batch)
        batches = len(batch_bodies)
        readings = sum(share.count for share, _ in batch_bodies)
        print(
            f"-> {path}: {readings / result.wall:,.0f} readings/s wall, {result.clock.count / batches:.1f} queries"
            f" and {result.clock.seconds / batches * 1000:.1f} ms in queries per batch"
        )

    # A process's first request imports the URLconf, the views and their
    # modules: a cost of starting up, measured apart (an empty batch, 400).
    from django.test import Client

    with measured("the process's first request: an empty batch (400)", top=args.top, profile=False):
        first = Client(HTTP_HOST="127.0.0.1").post(
            "/api/v1/readings/",
            data="[]",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {gateways[0].token}",
        )
    assert first.status_code == 400, first.content
    half = len(gateways) // 2
    # Cold, service first this time (make bench measures the view first).
    run(f"cold: service, {half} batches, sensors never seen", "service", bodies(gateways[half:], half, 0))
    run(f"cold: view, {half} batches, sensors never seen", "view", bodies(gateways[:half], half, 1))
    for round_ in range(args.rounds):
        order = ("view", "service") if round_ % 2 == 0 else ("service", "view")
        for n, path in enumerate(order):
            run(
                f"warm round {round_ + 1}: {path}, {args.batches} batches",
                path,
                bodies(gateways, args.batches, 2 + 2 * round_ + n),
            )
    run(
        f"view alone, profiled: {args.batches} batches of 1,000",
        "view",
        bodies(gateways, args.batches, 2 + 2 * args.rounds),
        profile=args.profile,
    )
    _view_without_service(gateways, requests=10 * args.batches, top=args.top, profile=args.profile)


def _view_without_service(gateways, *, requests: int, top: int, profile: bool) -> None:
    """The view's own cost per request, the ingest service answering at once:
    all that trimming the view (authentication, DRF, middleware, parsing,
    the answer) could ever save."""
    from django.test import Client

    from bench.loadgen import Gateway as Load
    from bench.loadgen import batch_body
    from monitoring import services

    share = gateways[0]
    body = batch_body(Load(share.code, share.token, share.first, share.count), datetime.now(UTC).isoformat(), 0)
    client = Client(HTTP_HOST="127.0.0.1")
    ingest = services.readings_ingest
    services.readings_ingest = lambda *, gateway, batch: services.IngestResult(
        accepted=len(batch), duplicates=0, errors=[]
    )
    try:
        cpu = time.process_time()
        with measured(f"the view without the service: {requests} requests", top=top, profile=profile) as result:
            for _ in range(requests):
                response = client.post(
                    "/api/v1/readings/",
                    data=body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {share.token}",
                )
                assert response.status_code == 200, response.content
        cpu = time.process_time() - cpu
    finally:
        services.readings_ingest = ingest
    print(
        f"-> the view's own cost: {result.wall / requests * 1000:.2f} ms wall, {cpu / requests * 1000:.2f} ms CPU"
        f" and {result.clock.count / requests:.1f} queries per request (profiled: {profile})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", choices=["drain", "ingest", "view"])
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE_URL", "postgis://postgres@127.0.0.1:5432/citysafety_bench"),
        help="dropped and created again (default: BENCH_DATABASE_URL)",
    )
    parser.add_argument("--sensors", type=int, default=10_000)
    parser.add_argument("--per-sensor", type=int, default=4, help="drain: readings per sensor before the drain")
    parser.add_argument(
        "--rounds", type=int, default=2, help="drain: store and drain this many times; view: warm rounds"
    )
    parser.add_argument(
        "--warning-sensors", type=int, default=0, help="drain: this many sensors' readings alternate Level I and normal"
    )
    parser.add_argument("--batches", type=int, default=30, help="ingest, view: batches of 1,000")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="times only, no cProfile")
    args = parser.parse_args(argv)
    {"drain": drain, "ingest": ingest, "view": view}[args.path](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
