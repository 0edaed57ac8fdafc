"""`make bench-history`: the warning and work-order lists over a history of millions.

Seeds its own database (BENCH_DATABASE_URL, else citysafety_bench on
DATABASE_URL's server; dropped and created again) with a city's years of
history, set-based (INSERT … SELECT generate_series, secondary indexes built
after the fill, as a restored or long-running database has them), then asks
the API in process (Django's test client: middleware, session, DRF, the
serializers, the database; no network) and prints p50 / p95 per list beside
the targets.

    python -m bench.history [--warnings 1000000] [--orders-per-warning 4] [--samples 40]

The machine is shared: each figure also comes as a ratio to the floor, the
same API answering an empty list in the same run, and the load average is
printed with the table.
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from django.core.exceptions import ObjectDoesNotExist

from bench import report

ROOT = Path(__file__).resolve().parent.parent
SENSORS = 100_000
DISTRICTS = 9
DEPARTMENTS = 20
SENSOR_TYPES = 6
OPEN_WARNINGS = 2_000  # the newest ones; the rest of the history is closed
HISTORY_SECONDS = 3 * 365 * 24 * 3600  # three years of warnings
PAGE = 50
DEEP_PAGE = 10_000  # "page 10,000": rows 499,951 to 500,000
STREETS = 1000  # sensor names carry one of these street numbers, for the name search

TARGET_FIRST = 0.100
TARGET_DEEP = 0.200

STAFF_USERNAME = "bench-staff"


def say(text: str) -> None:
    print(f"[bench-history {time.strftime('%H:%M:%S', time.gmtime())}Z] {text}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__.split("\n\n")[0])
    parser.add_argument("--warnings", type=int, default=1_000_000, help="warnings in the history (default 1,000,000)")
    parser.add_argument(
        "--orders-per-warning", type=int, default=4, help="work orders per warning (default 4: 4,000,000 orders)"
    )
    parser.add_argument("--samples", type=int, default=40, help="timed requests per figure (default 40)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the history an earlier run seeded, when the bench database holds it (else seed afresh)",
    )
    parser.add_argument("--results", type=Path, default=report.RESULTS, help="where the table is written")
    args = parser.parse_args(argv)
    if args.warnings < 600_000 or not 1 <= args.orders_per_warning <= 4 or args.samples < 5:
        parser.error(
            "--warnings of at least 600,000 (page 10,000 must exist), 1 to 4 --orders-per-warning, 5+ --samples"
        )
    return args


def configure() -> str:
    """Point Django at the bench database; returns its URL."""
    from bench.db import database_url

    url = database_url(os.environ.get("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/citysafety"))
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "citysafety.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # as production: no query log in memory
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    return url


# --- seeding ------------------------------------------------------------------


def seed(*, warnings: int, orders_per_warning: int) -> dict:
    """The city and its history; returns what the measurements need (ids, users, timings).

    The audit trail's row triggers (the audit app) are not fired while
    seeding: a synthetic history is no change anyone made, and a trigger per
    sensor made seeding even the test's small history take three minutes
    instead of seconds.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        return _seed(warnings=warnings, orders_per_warning=orders_per_warning)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET session_replication_role")


def _seed(*, warnings: int, orders_per_warning: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.gis.geos import MultiPolygon, Polygon
    from django.db import connection

    from bench.db import _secondary_indexes_drop, duty_officer_create
    from dispatch.models import WorkOrder, WorkOrderEvent
    from monitoring.models import RiskDomain, Sensor, SensorType
    from organisation.models import Department, District, Membership
    from organisation.roles import DEPARTMENT_STAFF
    from warning.models import ThresholdRule, Warning

    started = time.monotonic()
    duty_name, _ = duty_officer_create()
    duty = get_user_model().objects.get(username=duty_name)
    # The few rows of the city through the ORM (their defaults), the many in SQL.
    for d in range(1, DISTRICTS + 1):
        box = Polygon.from_bbox((117.0 + d * 0.1, 31.6, 117.1 + d * 0.1, 31.9))
        District.objects.create(code=f"3401{d:02d}", name=f"Bench district {d}", boundary=MultiPolygon(box, srid=4326))
    for d in range(1, DEPARTMENTS + 1):
        Department.objects.create(code=f"bench-dept-{d:02d}", name=f"Bench department {d}", kind="enterprise")
    domain = RiskDomain.objects.create(code="bench", name="Bench", category="lifeline")
    for t in range(1, SENSOR_TYPES + 1):
        sensor_type = SensorType.objects.create(
            code=f"bench-type-{t}", name=f"Bench type {t}", domain=domain, metric="methane", unit="%LEL"
        )
        ThresholdRule.objects.create(
            name=f"Bench rule {t}",
            sensor_type=sensor_type,
            level3_threshold=10,
            level2_threshold=20,
            level1_threshold=50,
            dead_band=1,
        )
    with connection.cursor() as cursor:
        # Sensor n: type n % 6, district n % 9, owner n % 20, on street n % 1000.
        cursor.execute(
            f"""
            INSERT INTO {Sensor._meta.db_table}
                (code, name, sensor_type_id, location, district_id, owner_department_id, address, is_active, status)
            SELECT 'B-' || lpad(n::text, 6, '0'), 'Bench sensor on street ' || (n %% {STREETS}),
                   t.ids[n %% {SENSOR_TYPES} + 1],
                   ST_SetSRID(ST_MakePoint(117.0 + (n %% 400) * 0.001, 31.6 + (n / 400) * 0.0016), 4326),
                   d.ids[n %% {DISTRICTS} + 1], o.ids[n %% {DEPARTMENTS} + 1], '', true, 'normal'
            FROM generate_series(0, %s - 1) n,
                 (SELECT array_agg(id ORDER BY id) ids FROM monitoring_sensortype) t,
                 (SELECT array_agg(id ORDER BY id) ids FROM organisation_district) d,
                 (SELECT array_agg(id ORDER BY id) ids FROM organisation_department) o
            """,
            [SENSORS],
        )
    timings = {"city": time.monotonic() - started}

    started = time.monotonic()
    tables = [Warning._meta.db_table, WorkOrder._meta.db_table, WorkOrderEvent._meta.db_table]
    rebuild = [sql for table in tables for sql in _secondary_indexes_drop(table)]
    with connection.cursor() as cursor:
        # Generated consistent: the foreign keys' per-row triggers would only slow the fill.
        cursor.execute("SET session_replication_role = replica")
        # Warning i (1 … N) opens HISTORY/N seconds after warning i-1; the newest
        # OPEN_WARNINGS are open, on distinct sensors (7919 is prime to 100,000).
        cursor.execute(
            f"""
            INSERT INTO {Warning._meta.db_table}
                (sensor_id, rule_id, level, status, opened_at, first_value, last_value, peak_value,
                 last_observed_at, recovered_at, closed_at, closed_by_id, disposal_note, closed_while_active)
            SELECT s.first + (i * 7919) %% {SENSORS},
                   r.ids[((i * 7919) %% {SENSORS}) %% {SENSOR_TYPES} + 1],
                   CASE WHEN i %% 20 = 0 THEN 1 WHEN i %% 4 = 0 THEN 2 ELSE 3 END,
                   CASE WHEN i <= %(n)s - {OPEN_WARNINGS} THEN 'closed' WHEN i %% 3 = 0 THEN 'recovered' ELSE 'active' END,
                   at, 12, 8, 25, at + interval '1 hour',
                   CASE WHEN i <= %(n)s - {OPEN_WARNINGS} OR i %% 3 = 0 THEN at + interval '1 hour' END,
                   CASE WHEN i <= %(n)s - {OPEN_WARNINGS} THEN at + interval '2 hours' END,
                   CASE WHEN i <= %(n)s - {OPEN_WARNINGS} THEN %(duty)s END,
                   CASE WHEN i <= %(n)s - {OPEN_WARNINGS} THEN 'Handled; safe again.' ELSE '' END,
                   false
            FROM generate_series(1::bigint, %(n)s) i,
                 LATERAL (SELECT now() - (%(n)s - i) * %(step)s * interval '1 second' AS at) t,
                 (SELECT min(id) AS first FROM {Sensor._meta.db_table}) s,
                 (SELECT array_agg(id ORDER BY sensor_type_id) ids FROM warning_thresholdrule) r
            """,
            {"n": warnings, "step": HISTORY_SECONDS / warnings, "duty": duty.pk},
        )
        # Each warning's orders go to distinct departments (offsets 0, 5, 10, 15 of 20).
        cursor.execute(
            f"""
            INSERT INTO {WorkOrder._meta.db_table}
                (warning_id, department_id, level, status, created_at, ack_deadline, is_overdue,
                 acknowledged_at, reported_at, report, closed_at,
                 report_cause, report_actions, report_result, status_reason)
            SELECT w.id, o.ids[(w.id + j * 5) %% {DEPARTMENTS} + 1], w.level,
                   CASE WHEN w.status = 'closed' THEN 'closed'
                        ELSE (ARRAY['pending', 'acknowledged', 'reported', 'pending'])[j + 1] END,
                   w.opened_at + j * interval '1 second', w.opened_at + interval '30 minutes', false,
                   CASE WHEN w.status = 'closed' OR j IN (1, 2) THEN w.opened_at + interval '10 minutes' END,
                   CASE WHEN w.status = 'closed' OR j = 2 THEN w.opened_at + interval '50 minutes' END,
                   CASE WHEN w.status = 'closed' OR j = 2 THEN 'Valve closed, area checked.' ELSE '' END,
                   CASE WHEN w.status = 'closed' THEN w.closed_at END,
                   '', '', '', ''
            FROM {Warning._meta.db_table} w, generate_series(0, %s - 1) j,
                 (SELECT array_agg(id ORDER BY id) ids FROM organisation_department) o
            """,
            [orders_per_warning],
        )
        # Timelines for the newest orders (what the first pages show); older
        # orders' events would not change a page's cost, which reads its
        # orders' events by the work_order_id index.
        cursor.execute(
            f"""
            INSERT INTO {WorkOrderEvent._meta.db_table} (work_order_id, kind, note, data, created_at)
            SELECT id, 'created', '', '{{}}'::jsonb, created_at FROM {WorkOrder._meta.db_table}
            WHERE created_at > now() - interval '60 days'
            """
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    timings["history"] = time.monotonic() - started

    started = time.monotonic()
    with connection.cursor() as cursor:
        for sql in rebuild:
            cursor.execute(sql)
    timings["indexes"] = time.monotonic() - started

    started = time.monotonic()
    with connection.cursor() as cursor:
        # As autovacuum leaves a table that has settled: statistics, and a
        # visibility map for index-only scans.
        for table in [*tables, Sensor._meta.db_table]:
            cursor.execute(f"VACUUM ANALYZE {table}")
    timings["vacuum"] = time.monotonic() - started

    staff = get_user_model().objects.create_user(username=STAFF_USERNAME, password="bench-staff-password")
    staff.groups.add(Group.objects.get(name=DEPARTMENT_STAFF))
    Membership.objects.create(user=staff, department=Department.objects.order_by("pk").first())
    return {**city_of(), "timings": timings}


def city_of() -> dict:
    """What the measurements need of a seeded bench database."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from bench.db import DUTY_USERNAME
    from dispatch.models import WorkOrder
    from warning.models import Warning

    users = get_user_model().objects
    staff = users.select_related("membership").get(username=STAFF_USERNAME)
    with connection.cursor() as cursor:
        cursor.execute("SELECT code FROM organisation_district ORDER BY id")
        districts = [code for (code,) in cursor]
        cursor.execute(
            "SELECT pg_total_relation_size(%s), pg_total_relation_size(%s)",
            [Warning._meta.db_table, WorkOrder._meta.db_table],
        )
        warning_bytes, order_bytes = cursor.fetchone()
        cursor.execute(f"SELECT count(*) FROM {Warning._meta.db_table}")
        (warnings,) = cursor.fetchone()
        cursor.execute(f"SELECT count(*) FROM {WorkOrder._meta.db_table}")
        (orders,) = cursor.fetchone()
    return {
        "duty": users.get(username=DUTY_USERNAME),
        "staff": staff,
        "department_id": staff.membership.department_id,
        "districts": districts,
        "warning_bytes": warning_bytes,
        "order_bytes": order_bytes,
        "warnings": warnings,
        "orders": orders,
    }


def seeded_city(*, warnings: int) -> dict | None:
    """The city an earlier run seeded, when it holds the history asked for (``--reuse``)."""
    from django.db import DatabaseError

    try:
        city = city_of()
    except (DatabaseError, ObjectDoesNotExist):
        return None
    return city if city["warnings"] == warnings else None


# --- measuring ------------------------------------------------------------------


def key_at(table: str, field: str, offset: int, where: str = "", params: tuple = ()) -> tuple:
    """The (time, id) of the row ``offset`` rows into a newest-first list."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {field}, id FROM {table} {where} ORDER BY {field} DESC, id DESC OFFSET %s LIMIT 1",
            [*params, offset],
        )
        return cursor.fetchone()


def rows_of(table: str, where: str = "", params: tuple = ()) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} {where}", params)
        return cursor.fetchone()[0]


def deep_url(path: str, params: dict, user, key: tuple) -> str:
    """The URL of the page after ``key``, with the cursor its next link would carry."""
    from citysafety.api import Position, cursor_encode, listing_scope

    scope = listing_scope(path=path, params={k: [str(v)] for k, v in params.items()}, user_id=user.pk)
    cursor = cursor_encode(Position(key[0], key[1]), scope=scope)
    return f"{path}?{urlencode({**params, 'cursor': cursor})}"


def timed(client, urls: list[str], *, samples: int, check) -> list[float]:
    """Seconds per request, cycling through ``urls`` (three warm-up requests first)."""
    for url in urls[:3]:
        check(client.get(url), url)
    times = []
    for n in range(samples):
        url = urls[n % len(urls)]
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        check(response, url)
    return times


def ok(response, url: str) -> None:
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")


def measure(city: dict, *, warnings: int, samples: int, rep: report.Report) -> None:
    from django.test import Client

    from dispatch.models import WorkOrder
    from warning.models import Warning

    duty, staff = Client(), Client()
    duty.force_login(city["duty"])
    staff.force_login(city["staff"])
    districts = city["districts"]
    wt, ot = Warning._meta.db_table, WorkOrder._meta.db_table
    deep_offset = (DEEP_PAGE - 1) * PAGE - 1  # the last row of page 9,999: the cursor's next page is page 10,000

    # An id no warning has (ids start at 1; 0 is refused): the stack and an empty index read.
    floor = timed(duty, [f"/api/v1/work-orders/?warning={2**63 - 1}"], samples=samples, check=ok)
    floor_p50 = report.percentile(floor, 50)
    rep.add(
        "floor: the same API answering an empty list (session, permissions, filters, two queries)",
        report.fmt_latencies(floor),
        raw={"seconds": floor},
    )

    def figure(name: str, client, urls: list[str], target: float | None, n: int = samples) -> None:
        times = timed(client, urls, samples=n, check=ok)
        p50, p95 = report.percentile(times, 50), report.percentile(times, 95)
        value = (
            f"p50 {report.fmt_seconds(p50)}, p95 {report.fmt_seconds(p95)}"
            f" (x{p95 / floor_p50:.1f} the floor; {n} requests)"
        )
        label = "p95 ≤ " + report.fmt_seconds(target) if target else ""
        rep.add(name, value, label, (p95 <= target) if target else None, seconds=times, urls=urls[:5])
        say(f"{name}: {value}")

    warning_list = "/api/v1/warnings/"
    deep_keys = [key_at(wt, "opened_at", deep_offset + k * PAGE) for k in range(3)]
    figure(f"warnings list, first page ({warnings:,} warnings)", duty, [warning_list], TARGET_FIRST)
    figure(
        "warnings list, level + district filter, first page",
        duty,
        [f"{warning_list}?level={level}&district={d}" for d in districts for level in (1, 2, 3)],
        TARGET_FIRST,
    )
    figure(
        "warnings list, page 10,000 (keyset cursor)",
        duty,
        [deep_url(warning_list, {}, city["duty"], key) for key in deep_keys],
        TARGET_DEEP,
    )
    # The level + district list (a fifth of the history in a ninth of the city): its last pages.
    in_district = (
        "WHERE level = 2 AND sensor_id IN (SELECT s.id FROM monitoring_sensor s"
        " JOIN organisation_district d ON d.id = s.district_id WHERE d.code = %s)"
    )
    filtered = rows_of(wt, in_district, (districts[0],))
    filtered_key = key_at(wt, "opened_at", filtered - 2 * PAGE, in_district, (districts[0],))
    figure(
        f"warnings list, level + district filter, its last page (page {filtered // PAGE:,}; keyset cursor)",
        duty,
        [deep_url(warning_list, {"level": 2, "district": districts[0]}, city["duty"], filtered_key)],
        TARGET_DEEP,
    )
    figure("open warnings, first page (the dashboard's list)", duty, [f"{warning_list}?status=open"], None)
    figure("open warning counters (the dashboard's counts)", duty, ["/api/v1/warnings/counts/?status=open"], None)

    closed = "/api/v1/warnings/closed/"
    month = [
        ("2025-03-01T00:00:00+08:00", "2025-04-01T00:00:00+08:00"),
        ("2024-07-01T00:00:00+08:00", "2024-08-01T00:00:00+08:00"),
    ]
    figure(
        "closed-warning search: a month + district, first page",
        duty,
        [
            f"{closed}?{urlencode({'opened_after': a, 'opened_before': b, 'district': d})}"
            for a, b in month
            for d in districts
        ],
        TARGET_FIRST,
    )
    figure(
        "closed-warning search: sensor code",
        duty,
        [f"{closed}?{urlencode({'search': f'B-{n:06d}'})}" for n in (17, 4242, 55555, 99998)],
        TARGET_FIRST,
    )
    figure(
        "closed-warning search: part of a sensor name (100 sensors) + district",
        duty,
        [
            f"{closed}?{urlencode({'search': f'street {s}', 'district': districts[s % DISTRICTS]})}"
            for s in (17, 421, 876)
        ],
        TARGET_FIRST,
    )
    closed_key = key_at(wt, "opened_at", deep_offset, "WHERE status = 'closed'")
    figure(
        "closed-warning search, page 10,000 (keyset cursor)",
        duty,
        [deep_url(closed, {}, city["duty"], closed_key)],
        TARGET_DEEP,
    )
    figure(
        "closed-warning search page (HTML), a month + district",
        duty,
        [
            f"/warnings/closed/?{urlencode({'opened_after': '2025-03-01', 'opened_before': '2025-04-01', 'district': d})}"
            for d in districts
        ],
        TARGET_FIRST,
    )

    orders = "/api/v1/work-orders/"
    department = city["department_id"]
    figure("department's queue: open orders, first page", staff, [f"{orders}?open=true"], TARGET_FIRST)
    figure("department's queue: closed orders, first page", staff, [f"{orders}?open=false"], TARGET_FIRST)
    dept_orders = city["orders"] // DEPARTMENTS
    dept_key = key_at(
        ot, "created_at", min(deep_offset, dept_orders * 3 // 4), "WHERE department_id = %s", (department,)
    )
    figure(
        f"department's list, a deep page (row {min(deep_offset, dept_orders * 3 // 4):,} of ~{dept_orders:,}; keyset cursor)",
        staff,
        [deep_url(orders, {}, city["staff"], dept_key)],
        TARGET_DEEP,
    )
    figure("duty officer's work orders, first page", duty, [orders], TARGET_FIRST)
    figure("duty officer's work orders, open, first page", duty, [f"{orders}?open=true"], TARGET_FIRST)
    figure(
        "duty officer's work orders, one department + status, first page",
        duty,
        [f"{orders}?department={department + k}&status={s}" for k in range(3) for s in ("closed", "pending")],
        TARGET_FIRST,
    )
    order_keys = [key_at(ot, "created_at", deep_offset + k * PAGE) for k in range(3)]
    figure(
        f"duty officer's work orders, page 10,000 ({city['orders']:,} orders; keyset cursor)",
        duty,
        [deep_url(orders, {}, city["duty"], key) for key in order_keys],
        TARGET_DEEP,
    )
    figure("work-order queue page (HTML, first 100 open orders), department staff", staff, ["/work-orders/"], None)

    # For scale: OFFSET paging (what the lists did) on the same data and the same indexes.
    offset_times = offset_page_times(deep_offset + 1, samples=5)
    p50 = report.percentile(offset_times, 50)
    rep.add(
        "for comparison: page 10,000 of the warnings by OFFSET and an exact count, queries alone",
        f"p50 {report.fmt_seconds(p50)} (x{p50 / floor_p50:.1f} the floor; 5 runs)",
        raw={"seconds": offset_times},
    )


def offset_page_times(offset: int, *, samples: int) -> list[float]:
    from warning.selectors import warnings_with_details

    times = []
    for _ in range(samples):
        started = time.perf_counter()
        warnings = warnings_with_details().order_by("-opened_at", "-id")
        warnings.count()
        list(warnings[offset : offset + PAGE])
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = configure()
    from bench.db import database_recreate, migrate

    rep = report.Report(
        mode="history",
        started_at=report.utc_now(),
        machine=report.machine_info(),
        commit=report.commit_info(),
        settings={
            "summary": f"{args.warnings:,} warnings, {args.orders_per_warning} work orders each,"
            f" {SENSORS:,} sensors; in-process API requests, {args.samples} per figure"
        },
    )
    name = urlsplit(url).path.lstrip("/")
    city = seeded_city(warnings=args.warnings) if args.reuse else None
    if city is None:
        say(f"database {name}: recreating and migrating")
        database_recreate(url)
        migrate()
        say("seeding the history")
        city = seed(warnings=args.warnings, orders_per_warning=args.orders_per_warning)
        t = city["timings"]
        seeding = f"city {t['city']:.0f} s, history {t['history']:.0f} s, indexes {t['indexes']:.0f} s, vacuum {t['vacuum']:.0f} s"
    else:
        say(f"database {name}: reusing its history, migrating")
        migrate()
        seeding = "reused from an earlier run (--reuse)"
    rep.add(
        "seeding",
        f"{seeding}; {city['warnings']:,} warnings {report.fmt_bytes(city['warning_bytes'])},"
        f" {city['orders']:,} work orders {report.fmt_bytes(city['order_bytes'])} (tables with their indexes)",
        **city.get("timings", {}),
    )
    say("measuring")
    try:
        measure(city, warnings=args.warnings, samples=args.samples, rep=rep)
    finally:
        rep.note(f"load average at the end: {' / '.join(f'{v:.2f}' for v in os.getloadavg())} (1 / 5 / 15 min)")
        rep.note(f"finished {datetime.now(UTC):%H:%M} UTC")
        print(rep.markdown())
        path = rep.write(args.results)
        say(f"table written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
