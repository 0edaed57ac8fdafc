"""``make bench-rollups``: a sensor's year-long chart from the hour roll-ups, and bytes per reading.

On a database of its own (BENCH_DATABASE_URL, dropped and made again):

1. ``--sensors`` sensors (100,000);
2. hour roll-ups: a full year for ``--year-sensors`` of them (1,000; the
   sensors charted are among them), the last ``--recent-days`` (2) for all
   the others, written hour by hour as the roll-up task writes them, so a
   sensor's rows lie scattered over the table as they would;
3. the chart: ``monitoring.selectors.sensor_series`` for a year of hours,
   each charted sensor once (its rows not yet read by anyone), then one
   sensor over and over; the same through the whole API view (session,
   rights, JSON); beside it the machine's floor, a one-row lookup by key;
4. readings: ``--reading-sensors`` (2,000) sensors' readings once a minute
   for ``--reading-minutes`` (1,440), inserted minute by minute with every
   index kept up (as ingestion does); then rolled up by
   ``monitoring.rollups`` (readings folded per second) and measured after
   VACUUM: bytes per reading, per minute roll-up and per hour roll-up, and
   what a year of 100,000 sensors reporting every minute takes.

Prints one table beside the targets and writes it to bench/results/.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
TARGET_CHART = 0.050
YEAR_HOURS = 365 * 24
CITY_SENSORS = 100_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rollups", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, default=CITY_SENSORS)
    parser.add_argument("--year-sensors", type=int, default=1_000, help="sensors with a full year of hour roll-ups")
    parser.add_argument("--recent-days", type=int, default=2, help="days of hour roll-ups for every sensor")
    parser.add_argument("--reading-sensors", type=int, default=2_000)
    parser.add_argument("--reading-minutes", type=int, default=1_440)
    parser.add_argument("--charts", type=int, default=20, help="sensors charted once each")
    parser.add_argument("--repeats", type=int, default=50, help="charts of one sensor, again and again")
    parser.add_argument("--quick", action="store_true", help="10,000 sensors, 100 with a year, 200 with readings")
    args = parser.parse_args(argv)
    if args.quick:
        args.sensors, args.year_sensors, args.recent_days = 10_000, 100, 2
        args.reading_sensors, args.reading_minutes = 200, 1_440
    return args


def say(text: str) -> None:
    print(f"[bench-rollups {datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def configure() -> str:
    from bench.db import database_url

    url = os.environ.get("BENCH_DATABASE_URL") or database_url(
        os.environ.get("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/citysafety")
    )
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "citysafety.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the in-process API client
    return url


def seed_sensors(count: int) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO monitoring_riskdomain (code, name, category, sort_order) VALUES ('bench', 'Bench', 'lifeline', 0)"
            " RETURNING id"
        )
        domain = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO monitoring_sensortype (code, name, domain_id, metric, unit, reporting_interval_seconds)"
            " VALUES ('bench-methane', 'Bench methane', %s, 'methane', '%%LEL', 60) RETURNING id",
            [domain],
        )
        sensor_type = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO monitoring_sensor (code, name, sensor_type_id, location, address, is_active, status)"
            " SELECT 'R-' || n, 'Bench sensor ' || n, %s,"
            "        ST_SetSRID(ST_MakePoint(117 + random() * 0.5, 31.6 + random() * 0.4), 4326), '', true, 'online'"
            " FROM generate_series(1, %s) AS n ORDER BY n",
            [sensor_type, count],
        )
        cursor.execute("SELECT id FROM monitoring_sensor ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


_HOURS = """
    INSERT INTO monitoring_hourrollup (sensor_id, bucket, count, minimum, maximum, total, last_value, last_observed_at)
    SELECT s.id, h, 60, v - 1, v + 1, v * 60, v, h + interval '59 minutes'
    FROM generate_series(%s::timestamptz, %s::timestamptz, interval '1 hour') AS h
    CROSS JOIN unnest(%s::bigint[]) AS s (id)
    CROSS JOIN LATERAL (SELECT round((random() * 9)::numeric, 2)::float AS v OFFSET 0) AS r
    ORDER BY h, s.id
"""


def seed_hours(*, year_ids: list[int], other_ids: list[int], recent_days: int, now: datetime) -> dict:
    """A year of hours for ``year_ids``, the last days for the others; hour by hour, all sensors each hour."""
    from django.db import connection, transaction

    from monitoring.partitions import TablePolicy, partitions_maintain

    partitions_maintain(policies=[TablePolicy("monitoring_hourrollup", 0, premake=3, reach_back_days=400)])
    end = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    year_start = end - timedelta(hours=YEAR_HOURS - 1)
    recent_start = end - timedelta(days=recent_days) + timedelta(hours=1)
    began = time.perf_counter()
    rows = 0
    step = timedelta(hours=max(1, 600_000 // max(1, len(year_ids) + len(other_ids))))
    at = year_start
    while at <= end:
        last = min(at + step - timedelta(hours=1), end)
        # (from, to, sensors): before the recent days only the sensors with a year.
        spans = [(at, last, year_ids)]
        if other_ids and last >= recent_start:
            split = max(at, recent_start)
            spans = [(at, split - timedelta(hours=1), year_ids)] if split > at else []
            spans.append((split, last, year_ids + other_ids))
        with transaction.atomic(), connection.cursor() as cursor:
            for first, until, sensors in spans:
                cursor.execute(_HOURS, [first, until, sensors])
                rows += cursor.rowcount
        at = last + timedelta(hours=1)
    elapsed = time.perf_counter() - began
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE monitoring_hourrollup")
    return {"rows": rows, "seconds": elapsed, "start": year_start, "end": end + timedelta(hours=1)}


def timed(function, *args, **kwargs) -> tuple[float, object]:
    began = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - began, result


def chart_latencies(*, sensor_ids: list[int], repeats: int, start: datetime, end: datetime) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client

    from monitoring.selectors import sensor_series, sensor_series_statement
    from organisation.roles import DUTY_OFFICER

    first_touch = []
    points = None
    for sensor_id in sensor_ids[1:]:
        elapsed, series = timed(sensor_series, sensor_id=sensor_id, start=start, end=end, resolution="hour")
        first_touch.append(elapsed)
        points = len(orjson.loads(series)["t"])
    again = [
        timed(sensor_series, sensor_id=sensor_ids[0], start=start, end=end, resolution="hour")[0]
        for _ in range(repeats)
    ]
    # The whole API view in this process: session, rights, the query, JSON.
    Group.objects.get_or_create(name=DUTY_OFFICER)
    user, _ = get_user_model().objects.get_or_create(username="bench-duty")
    user.groups.add(Group.objects.get(name=DUTY_OFFICER))
    client = Client()
    client.force_login(user)
    url = f"/api/v1/sensors/{sensor_ids[0]}/series/?start={start.isoformat()}&end={end.isoformat()}".replace("+", "%2B")
    api = []
    size = 0
    for _ in range(repeats):
        elapsed, response = timed(client.get, url)
        assert response.status_code == 200, response.content[:300]
        api.append(elapsed)
        size = len(response.content)
    with connection.cursor() as cursor:
        # The machine's floor, through the same path: the same columns of as
        # many generated rows, encoded by the database, no table read.
        floor = []
        for _ in range(repeats):
            began = time.perf_counter()
            cursor.execute(
                "SELECT json_build_object('t', json_agg(now() + make_interval(hours => g)),"
                " 'min', json_agg(g::float), 'max', json_agg(g::float), 'mean', json_agg(g::float / 60),"
                " 'count', json_agg(60), 'last', json_agg(g::float))::text FROM generate_series(1, %s) AS g",
                [points or YEAR_HOURS],
            )
            cursor.fetchone()
            floor.append(time.perf_counter() - began)
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sensor_series_statement("hour"),
            [sensor_ids[-1], start, end],
        )
        plan = cursor.fetchone()[0][0]
    return {
        "first_touch": first_touch,
        "again": again,
        "api": api,
        "api_bytes": size,
        "floor": floor,
        "points": points,
        "plan_ms": plan["Execution Time"],
        "plan_buffers": _buffers(plan["Plan"]),
        "partitions": _count_scans(plan["Plan"]),
    }


def _buffers(plan: dict) -> dict:
    return {key: plan.get(key, 0) for key in ("Shared Hit Blocks", "Shared Read Blocks")}


def _count_scans(plan: dict) -> int:
    own = 1 if "Scan" in plan.get("Node Type", "") and plan.get("Relation Name") else 0
    return own + sum(_count_scans(child) for child in plan.get("Plans", []))


def seed_readings(*, sensor_ids: list[int], minutes: int, now: datetime) -> dict:
    """Readings once a minute, minute by minute, every index kept up; committed in chunks."""
    from django.db import connection, transaction

    origin = (now - timedelta(minutes=minutes + 5)).replace(second=0, microsecond=0)
    step = max(1, 200_000 // len(sensor_ids))
    began = time.perf_counter()
    rows = 0
    for first in range(0, minutes, step):
        last = min(first + step, minutes) - 1
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO monitoring_reading (sensor_id, observed_at, value, received_at)"
                " SELECT s.id, %s + make_interval(mins => m, secs => s.id %% 60), round((random() * 9)::numeric, 2),"
                "        %s + make_interval(mins => m)"
                " FROM generate_series(%s::int, %s::int) AS m CROSS JOIN unnest(%s::bigint[]) AS s (id)"
                " ORDER BY m, s.id",
                [origin, origin, first, last, sensor_ids],
            )
            rows += cursor.rowcount
    return {"rows": rows, "seconds": time.perf_counter() - began}


def roll_up_all() -> dict:
    from monitoring.rollups import readings_roll_up

    began = time.perf_counter()
    folded = 0
    while True:
        run = readings_roll_up()
        folded += run.readings_seen
        if run.readings_seen == 0 and folded:
            break
        if run.readings_seen == 0:
            time.sleep(0.2)  # the first run only looks at the ids handed out
    return {"readings": folded, "seconds": time.perf_counter() - began}


def sizes() -> dict:
    """Bytes on disk, indexes included, of each partitioned table, after VACUUM; and its rows."""
    from django.db import connection

    result = {}
    with connection.cursor() as cursor:
        for table in ("monitoring_reading", "monitoring_minuterollup", "monitoring_hourrollup"):
            cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute(
                "SELECT coalesce(sum(pg_total_relation_size(relid)), 0),"
                "       coalesce(sum(pg_indexes_size(relid)), 0) FROM pg_partition_tree(%s::regclass)",
                [table],
            )
            total, indexes = cursor.fetchone()
            cursor.execute(f"SELECT count(*) FROM {table}")
            result[table] = {"bytes": int(total), "index_bytes": int(indexes), "rows": cursor.fetchone()[0]}
    return result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:,.0f} {unit}" if unit == "B" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1024
    return ""  # pragma: no cover


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = configure()
    from django.core.management import call_command
    from django.utils import timezone

    from bench.db import database_recreate

    say(f"fresh database {url.rsplit('/', 1)[-1]}")
    database_recreate(url)
    call_command("migrate", verbosity=0)
    now = timezone.now()
    say(f"{args.sensors:,} sensors")
    ids = seed_sensors(args.sensors)
    # The sensors with a year: spread over the ids, not the first ones.
    stride = max(1, len(ids) // args.year_sensors)
    year_ids = ids[::stride][: args.year_sensors]
    chosen = set(year_ids)
    other_ids = [i for i in ids if i not in chosen]
    say(f"hour roll-ups: a year for {len(year_ids):,} sensors, {args.recent_days} days for {len(other_ids):,}")
    hours = seed_hours(year_ids=year_ids, other_ids=other_ids, recent_days=args.recent_days, now=now)
    say(f"  {hours['rows']:,} rows in {hours['seconds']:.0f} s; charting")
    charted = year_ids[:: max(1, len(year_ids) // (args.charts + 1))][: args.charts + 1]
    load_before = os.getloadavg()
    chart = chart_latencies(sensor_ids=charted, repeats=args.repeats, start=hours["start"], end=hours["end"])
    say(f"readings: {args.reading_sensors:,} sensors x {args.reading_minutes:,} minutes")
    readings = seed_readings(sensor_ids=ids[: args.reading_sensors], minutes=args.reading_minutes, now=now)
    say(f"  {readings['rows']:,} readings in {readings['seconds']:.0f} s; rolling up")
    rolled = roll_up_all()
    measured = sizes()
    load_after = os.getloadavg()

    reading = measured["monitoring_reading"]
    minute = measured["monitoring_minuterollup"]
    hour_rows = measured["monitoring_hourrollup"]
    per_reading = reading["bytes"] / reading["rows"]
    per_minute = minute["bytes"] / minute["rows"]
    per_hour = hour_rows["bytes"] / hour_rows["rows"]
    year_readings = CITY_SENSORS * 365 * 24 * 60
    year_hours = CITY_SENSORS * YEAR_HOURS
    floor_p50 = statistics.median(chart["floor"])
    again_p50, again_p95 = statistics.median(chart["again"]), pct(chart["again"], 95)
    api_p50, api_p95 = statistics.median(chart["api"]), pct(chart["api"], 95)
    first_p50, first_max = statistics.median(chart["first_touch"]), max(chart["first_touch"])
    seeded = (
        f"{hours['rows']:,} hour roll-ups: {len(year_ids):,} sensors x 8,760 h (a year) and "
        f"{len(other_ids):,} sensors x {args.recent_days * 24} h, written hour by hour, in "
        f"{human(hour_rows['bytes'])}"
    )
    rows = [
        ("hour roll-ups seeded", seeded, "", ""),
        (
            f"one sensor's year of hours ({chart['points']:,} points), selector, each of {len(chart['first_touch'])} "
            "sensors charted once",
            f"p50 {ms(first_p50)}, max {ms(first_max)}",
            "< 50 ms",
            "met" if first_max < TARGET_CHART else "**not met**",
        ),
        (
            f"the same, one sensor {args.repeats} times",
            f"p50 {ms(again_p50)}, p95 {ms(again_p95)}; x{again_p50 / floor_p50:,.1f} the floor "
            f"(the same columns of as many generated rows through the same path, p50 {ms(floor_p50)})",
            "< 50 ms",
            "met" if again_p95 < TARGET_CHART else "**not met**",
        ),
        (
            "the same through the API view (session, rights, JSON), in process",
            f"p50 {ms(api_p50)}, p95 {ms(api_p95)}; {human(chart['api_bytes'])} of JSON",
            "< 50 ms",
            "met" if api_p95 < TARGET_CHART else "**not met**",
        ),
        (
            "its plan (EXPLAIN ANALYZE, another sensor)",
            f"{chart['plan_ms']:.1f} ms in the server; {chart['partitions']} partition index scans; "
            f"buffers hit {chart['plan_buffers']['Shared Hit Blocks']:,}, read "
            f"{chart['plan_buffers']['Shared Read Blocks']:,}",
            "",
            "",
        ),
        (
            "bytes per reading (readings table, indexes included, after VACUUM)",
            f"{per_reading:,.0f} B ({reading['rows']:,} readings in {human(reading['bytes'])}, of which indexes "
            f"{human(reading['index_bytes'])})",
            "",
            "",
        ),
        (
            "bytes per minute roll-up / per hour roll-up (indexes included)",
            f"{per_minute:,.0f} B ({minute['rows']:,} rows) / {per_hour:,.0f} B ({hour_rows['rows']:,} rows)",
            "",
            "",
        ),
        (
            "a year of 100,000 sensors reporting every minute",
            f"readings {human(year_readings * per_reading)} ({year_readings:,}); minute roll-ups "
            f"{human(year_readings * per_minute)}; hour roll-ups {human(year_hours * per_hour)}",
            "",
            "",
        ),
        (
            "roll-up of the readings (monitoring.rollups, in process)",
            f"{rolled['readings'] / rolled['seconds']:,.0f} readings/s ({rolled['readings']:,} readings in "
            f"{rolled['seconds']:.1f} s); 100,000 sensors a minute need 1,667/s",
            "",
            "",
        ),
        (
            "load average (1 min) before the charts / at the end",
            f"{load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} cores",
            "",
            "",
        ),
    ]
    table = ["| figure | measured | target | |", "| --- | --- | --- | --- |"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    text = "\n".join(table) + "\n"
    print(text)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"rollups-{datetime.now(UTC):%Y%m%d-%H%M%S}.md"
    path.write_text(f"## Roll-ups and partitions, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n{text}")
    say(f"written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
