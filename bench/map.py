"""The one map at city scale: time to the first full paint, payload, JS heap,
and redraw after a pan and a zoom, in headless Chromium, at 10,000 and
100,000 sensors (``make bench-map``; ``python -m bench.map --help``).

Everything runs on this machine: the bench's own database (BENCH_DATABASE_URL,
dropped and made again), a private Redis, daphne as ``make run`` starts it
(DEBUG off, static files collected and served by WhiteNoise), and Debian's
Chromium through Playwright. The sensors lie in clumps over Hefei, as a
city's do; about 6 % are offline, 3 % without data, and one in 10,000 is
at Level I (set on the sensor row, as the warning app keeps it; the warning
list is empty).

Beside our figures the table prints, measured in the same run: the machine's
floor (the login page's first paint in a fresh browser context) and the old
feed (the whole city as GeoJSON, ``/api/v1/sensors/geojson/``, which the map
loaded before), so a busy machine shows as a busy machine.
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.stack import free_port, port_open, redis_start, stop_process, wait_until

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]
VIEWPORT = {"width": 1366, "height": 768}
# Issue 8's targets: interactive within these many seconds.
TARGETS = {10_000: 1.0, 100_000: 2.0}
# Hefei's built-up area and the centres its sensors clump around.
CITY = (116.95, 31.65, 117.55, 32.05)
CENTRES = [(117.23, 31.82), (117.30, 31.87), (117.17, 31.86), (117.28, 31.75), (117.12, 31.78), (117.36, 31.93)]

# Sets window.__bench.{map,list}: when the map first drew its view, and when
# the warning list finished loading (performance.now(), from navigation start).
PAGE_PROBE = """
window.__bench = {};
(function tick() {
  const map = document.getElementById("map");
  const list = document.getElementById("warning-list");
  if (map && map.dataset.draws && !window.__bench.map) {
    const mark = performance.getEntriesByName("map-drawn-1")[0];
    window.__bench.map = mark ? mark.startTime : performance.now();
  }
  if (list && list.getAttribute("aria-busy") === "false" && !window.__bench.list) window.__bench.list = performance.now();
  if (!window.__bench.map || !window.__bench.list) requestAnimationFrame(tick);
})();
"""

# Runs an action on the map, resolves the time until the next view is drawn (ms).
REDRAW = """
async (action) => {
  const node = document.getElementById("map");
  const map = window.citysafetyDashboard.map;
  const before = Number(node.dataset.draws);
  const started = performance.now();
  if (action === "pan") map.panBy([320, 180], { animate: false });
  else if (action === "zoom-in") map.setZoom(map.getZoom() + 1, { animate: false });
  else map.setZoom(map.getZoom() - 1, { animate: false });
  while (Number(node.dataset.draws) === before) {
    if (performance.now() - started > 30000) return null;
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  return performance.now() - started;
}
"""


@dataclass
class Load:
    map_ms: float
    list_ms: float
    interactive_ms: float
    transfer_bytes: int
    decoded_bytes: int
    map_transfer_bytes: int
    map_decoded_bytes: int
    map_server_ms: float
    heap_bytes: int
    clusters: int
    pan_ms: float | None = None
    zoom_in_ms: float | None = None
    zoom_out_ms: float | None = None


@dataclass
class SizeResult:
    sensors: int
    loads: list[Load] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)
    old_feed_bytes: int | None = None
    old_feed_s: float | None = None
    load_average: tuple[float, float, float] | None = None


def configure(database_url: str, redis_url: str) -> dict[str, str]:
    """This process and daphne on the bench's database and Redis; DEBUG off as in production."""
    static_root = tempfile.mkdtemp(prefix="citysafety-bench-static-")
    shared = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CHANNEL_LAYER_REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "citysafety.settings",
        "DEBUG": "0",
        "HTTPS_ONLY": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "STATIC_ROOT": static_root,
        "MAP_TILE_URL": "",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(shared)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return {**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}, **shared}


def city_seed() -> None:
    """Districts over the city, a sensor type, a duty officer."""
    from django.contrib.gis.geos import MultiPolygon, Polygon

    from bench.db import duty_officer_create
    from monitoring.models import RiskDomain, SensorType
    from organisation.models import District

    west, south, east, north = CITY
    middle_x, middle_y = (west + east) / 2, (south + north) / 2
    quarters = [
        (west, south, middle_x, middle_y),
        (middle_x, south, east, middle_y),
        (west, middle_y, middle_x, north),
        (middle_x, middle_y, east, north),
    ]
    for n, box in enumerate(quarters):
        District.objects.create(
            code=f"3401{n + 2:02d}", name=f"Bench district {n + 1}", boundary=MultiPolygon(Polygon.from_bbox(box))
        )
    domain = RiskDomain.objects.create(code="bench", name="Bench", category="lifeline")
    SensorType.objects.create(code="bench-methane", name="Bench methane", domain=domain, metric="methane", unit="%LEL")
    duty_officer_create()


def sensors_seed(first: int, last: int) -> None:
    """Sensors number first … last - 1, in clumps around the centres (70 %) and over the whole city."""
    from django.db import connection

    from monitoring.models import Sensor, SensorType

    sensor_type = SensorType.objects.get(code="bench-methane")
    west, south, east, north = CITY
    centres_x = [x for x, _ in CENTRES]
    centres_y = [y for _, y in CENTRES]
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [first / 1_000_000])
        cursor.execute(
            f"""
            INSERT INTO {Sensor._meta.db_table}
                (code, name, sensor_type_id, location, address, is_active, status, warning_level)
            SELECT 'M-' || lpad(n::text, 6, '0'), 'Bench map sensor ' || n, %(type)s,
                   ST_SetSRID(CASE WHEN random() < 0.7 THEN
                       ST_MakePoint(
                           (%(cx)s::float8[])[1 + n %% %(centres)s] + (random() + random() + random() - 1.5) * 0.08,
                           (%(cy)s::float8[])[1 + n %% %(centres)s] + (random() + random() + random() - 1.5) * 0.06)
                   ELSE
                       ST_MakePoint(%(west)s + random() * (%(east)s - %(west)s),
                                    %(south)s + random() * (%(north)s - %(south)s))
                   END, 4326),
                   '', true,
                   CASE WHEN random() < 0.06 THEN 'offline' WHEN random() < 0.03 THEN 'unknown' ELSE 'online' END,
                   CASE WHEN n %% 10000 = 17 THEN 1 WHEN n %% 2000 = 3 THEN 2 WHEN n %% 500 = 7 THEN 3 END
            FROM generate_series(%(first)s, %(last)s - 1) AS n
            """,
            {
                "type": sensor_type.pk,
                "cx": centres_x,
                "cy": centres_y,
                "centres": len(CENTRES),
                "west": west,
                "east": east,
                "south": south,
                "north": north,
                "first": first,
                "last": last,
            },
        )
        cursor.execute(f"ANALYZE {Sensor._meta.db_table}")


def daphne_start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    popen = subprocess.Popen(
        [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "citysafety.asgi:application"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    wait_until(lambda: port_open(port) or popen.poll() is not None, timeout=120, what="daphne listening")
    if popen.poll() is not None:
        raise SystemExit(f"daphne died, see {log}")
    return popen, f"http://127.0.0.1:{port}"


def log_in(browser, url: str) -> dict:
    """The duty officer's session (a storage state for fresh contexts)."""
    from bench.db import DUTY_PASSWORD, DUTY_USERNAME

    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", DUTY_USERNAME)
    page.fill("input[name=password]", DUTY_PASSWORD)
    page.click("form.login-form button[type=submit]")
    page.wait_for_url(lambda u: "/login/" not in u)
    state = context.storage_state()
    context.close()
    return state


def floor_ms(browser, url: str) -> float:
    """The machine's floor: the login page's first contentful paint in a fresh context."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{url}/login/", wait_until="load")
    page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
    value = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
    context.close()
    return value


def dashboard_load(browser, url: str, session: dict, *, timeline: bool = False) -> Load:
    """One cold load of the dashboard (a fresh context: an empty cache), then a pan and two zooms."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", storage_state=session)
    context.add_init_script(PAGE_PROBE)
    page = context.new_page()
    page.goto(f"{url}/dashboard/")
    page.wait_for_function("window.__bench && window.__bench.map && window.__bench.list", timeout=120_000)
    marks = page.evaluate("window.__bench")
    resources = page.evaluate(
        """() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
             .map((e) => ({name: e.name, transfer: e.transferSize, decoded: e.decodedBodySize,
                           server: e.responseEnd - e.requestStart}))"""
    )
    map_entry = next(r for r in resources if "/api/v1/map/sensors/" in r["name"])
    if timeline:
        for entry in page.evaluate(
            """() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource'),
                      ...performance.getEntriesByType('paint'), ...performance.getEntriesByType('mark')]
                 .map((e) => [e.startTime, e.startTime + e.duration, e.entryType, e.name])
                 .sort((a, b) => a[0] - b[0])"""
        ):
            print(f"    {entry[0]:8.0f} {entry[1]:8.0f} ms  {entry[2]:10} {entry[3].replace(url, '')[:100]}")
    cdp = context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    load = Load(
        map_ms=marks["map"],
        list_ms=marks["list"],
        interactive_ms=max(marks["map"], marks["list"]),
        transfer_bytes=sum(r["transfer"] for r in resources),
        decoded_bytes=sum(r["decoded"] for r in resources),
        map_transfer_bytes=map_entry["transfer"],
        map_decoded_bytes=map_entry["decoded"],
        map_server_ms=map_entry["server"],
        heap_bytes=int(metrics.get("JSHeapUsedSize", 0)),
        clusters=page.locator(".map-cluster[data-count]").count(),
    )
    load.pan_ms = page.evaluate(REDRAW, "pan")
    load.zoom_in_ms = page.evaluate(REDRAW, "zoom-in")
    load.zoom_out_ms = page.evaluate(REDRAW, "zoom-out")
    context.close()
    return load


def old_feed(url: str, session: dict) -> tuple[int, float]:
    """The whole city as GeoJSON, as the map loaded it before: bytes (uncompressed, as it was served) and seconds."""
    cookies = {c["name"]: c["value"] for c in session["cookies"]}
    started = time.perf_counter()
    response = requests.get(f"{url}/api/v1/sensors/geojson/", cookies=cookies, timeout=300)
    response.raise_for_status()
    return len(response.content), time.perf_counter() - started


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def report(results: list[SizeResult], started: datetime) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f} ms"

    def mb(value: float | None) -> str:
        return "-" if value is None else (f"{value / 1e6:.2f} MB" if value >= 1e5 else f"{value / 1e3:.1f} kB")

    lines = [
        f"# The one map at city scale — {started:%Y-%m-%d %H:%M} UTC",
        "",
        "Median of the cold loads (a fresh browser context each: empty cache) at each size; "
        "1366 x 768, headless Debian Chromium, daphne with DEBUG off.",
        "",
        "| figure | " + " | ".join(f"{r.sensors:,} sensors" for r in results) + " | target |",
        "| --- | " + " | ".join("---" for _ in results) + " | --- |",
    ]

    def row(name: str, values: list[str], target: str = "") -> None:
        lines.append(f"| {name} | " + " | ".join(values) + f" | {target} |")

    row(
        "interactive (map drawn and warning list loaded)",
        [ms(median([load.interactive_ms for load in r.loads])) for r in results],
        " / ".join(f"≤ {TARGETS[r.sensors]:.0f} s" if r.sensors in TARGETS else "-" for r in results),
    )
    row("first full paint of the map", [ms(median([load.map_ms for load in r.loads])) for r in results])
    row(
        "  ratio to the machine's floor (login page's first paint)",
        [
            f"{median([load.map_ms for load in r.loads]) / median(r.floor_ms):.1f} x ({ms(median(r.floor_ms))})"
            for r in results
        ],
    )
    row(
        "map answer, server side (request → response end)",
        [ms(median([x.map_server_ms for x in r.loads])) for r in results],
    )
    row(
        "map answer, bytes on the wire (gzip) / JSON",
        [
            f"{mb(median([x.map_transfer_bytes for x in r.loads]))} / {mb(median([x.map_decoded_bytes for x in r.loads]))}"
            for r in results
        ],
    )
    row(
        "whole page, bytes on the wire / decoded",
        [
            f"{mb(median([x.transfer_bytes for x in r.loads]))} / {mb(median([x.decoded_bytes for x in r.loads]))}"
            for r in results
        ],
    )
    row("JS heap after GC", [mb(median([x.heap_bytes for x in r.loads])) for r in results], "(was 145 MB)")
    row("clusters drawn at city zoom", [f"{median([x.clusters for x in r.loads]):.0f}" for r in results])
    row("redraw after a pan (incl. 150 ms settle)", [ms(median([x.pan_ms for x in r.loads])) for r in results])
    row("redraw after zooming in", [ms(median([x.zoom_in_ms for x in r.loads])) for r in results])
    row("redraw after zooming out", [ms(median([x.zoom_out_ms for x in r.loads])) for r in results])
    row(
        "old feed: the whole city as GeoJSON (bytes / s)",
        [f"{mb(r.old_feed_bytes)} / {r.old_feed_s:.2f} s" if r.old_feed_bytes else "-" for r in results],
        "(was 42 MB, 5.4-6.7 s to drawn)",
    )
    row(
        "load average (1, 5, 15 min) at the size's start",
        [", ".join(f"{v:.1f}" for v in r.load_average) if r.load_average else "-" for r in results],
    )
    lines += ["", f"Cores: {os.cpu_count()}. Runs per size: {max(len(r.loads) for r in results)}."]
    for r in results:
        lines.append(f"- {r.sensors:,}: interactive per run " + ", ".join(ms(load.interactive_ms) for load in r.loads))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.map", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="10000,100000", help="sensor counts, ascending, comma-separated (default 10000,100000)"
    )
    parser.add_argument("--runs", type=int, default=3, help="cold loads per size (default 3)")
    parser.add_argument("--timeline", action="store_true", help="print each load's requests, paints and marks")
    parser.add_argument("--no-old-feed", action="store_true", help="skip timing the old whole-city GeoJSON feed")
    args = parser.parse_args(argv)
    sizes = sorted({int(size) for size in args.sizes.split(",")})
    if not sizes or sizes[0] <= 0 or args.runs < 1:
        parser.error("--sizes takes positive counts and --runs at least 1")

    from bench.db import database_recreate, database_url, migrate

    started = datetime.now(UTC)
    redis = redis_start()
    database = database_url(os.environ.get("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/citysafety"))
    env = configure(database, f"redis://127.0.0.1:{redis.port}/0")
    # Playwright's sync API runs an event loop in this thread, and the ORM
    # seeds between browser steps; daphne's environment is taken before this.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    RESULTS.mkdir(parents=True, exist_ok=True)
    daphne = None
    try:
        print(f"bench database {database}: creating, migrating", flush=True)
        database_recreate(database)
        migrate()
        city_seed()
        daphne, url = daphne_start(env, RESULTS / "map-daphne.log")
        from playwright.sync_api import sync_playwright

        results = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            session = log_in(browser, url)
            seeded = 0
            for size in sizes:
                print(f"seeding sensors {seeded:,} … {size:,}", flush=True)
                sensors_seed(seeded, size)
                seeded = size
                result = SizeResult(sensors=size, load_average=os.getloadavg())
                dashboard_load(browser, url, session)  # warm daphne and the database's caches; not counted
                for run in range(args.runs):
                    result.floor_ms.append(floor_ms(browser, url))
                    load = dashboard_load(browser, url, session, timeline=args.timeline)
                    result.loads.append(load)
                    print(
                        f"  {size:,} run {run + 1}: interactive {load.interactive_ms:,.0f} ms, "
                        f"map {load.map_transfer_bytes:,} B on the wire, heap {load.heap_bytes / 1e6:.1f} MB",
                        flush=True,
                    )
                if not args.no_old_feed:
                    result.old_feed_bytes, result.old_feed_s = old_feed(url, session)
                results.append(result)
            browser.close()
        text = report(results, started)
        print(text)
        path = RESULTS / f"map-{started:%Y%m%dT%H%M%S}.md"
        path.write_text(text)
        (RESULTS / f"map-{started:%Y%m%dT%H%M%S}.json").write_text(
            json.dumps([r.__dict__ | {"loads": [x.__dict__ for x in r.loads]} for r in results], indent=2)
        )
        print(f"written to {path.relative_to(ROOT)}")
    finally:
        if daphne is not None:
            stop_process(daphne)
        redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
