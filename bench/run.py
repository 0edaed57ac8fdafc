"""``make bench``: the platform under storm load, as one table (issue #7).

Phases, in order (each can be skipped with ``--skip``):

1. a fresh bench database, seeded in bulk: sensors in blocks of 1,000 per
   gateway, one threshold rule, 30 probe sensors, a duty officer;
2. ``copy``: the COPY floor; ``inprocess``: ingest and evaluation in this
   process, as a ratio of that floor;
3. the stack started as ``make run`` starts it (scripts/run.sh) on its own
   database, Redis and Mosquitto; then ``idle``: the latency probe alone;
   ``http``: HTTP load at ``--rate`` for each ``--sensors`` count;
   ``probe``: the probe under ``--background`` readings/s of HTTP load;
   ``mqtt``: MQTT load at ``--rate``;
4. the stack stopped; bytes per reading and the sensor table's size;
5. ``history``: ingest and evaluation cost per reading at each
   ``--history`` size of the readings table.

The table goes to stdout and bench/results/.
"""

import argparse
import math
import multiprocessing
import os
import signal
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit
from uuid import uuid4

from bench import loadgen, probe, report
from bench.monitor import MONITOR_CPU, SERVER_CPU, Monitor, lag_summary
from bench.report import fmt_bytes, fmt_int, fmt_latencies, fmt_seconds, percentile
from bench.stack import BENCH_APPLICATION_NAME, Stack, mosquitto_start, redis_start, stack_start

ROOT = Path(__file__).resolve().parent.parent
# Flips an hour before a warning is marked flapping, in the bench's stack.
PROBE_FLAP_LIMIT = 1_000_000
PHASES = ("copy", "inprocess", "idle", "http", "probe", "mqtt", "history")
TARGET_RATE = 20_000
TARGET_LAG = 5.0
TARGET_P99 = 1.0
TARGET_IDLE_P50 = 0.1
TARGET_FLOOR_SHARE = 0.30
TARGET_HISTORY_GROWTH = 1.25
LOADGEN_CPU = "load generators and probe (bench)"


@dataclass
class Mode:
    name: str
    sensors: list[int]
    rate: int = TARGET_RATE
    duration: float = 60
    drain: float = 120  # seconds allowed after the load for evaluation to catch up
    reply_wait: float = 30  # MQTT: seconds to wait for the bridge's last replies
    patience: float = 60  # probe: a warning not on screen this long after its reading is lost
    idle_probe: float = 30
    background: int = 5000
    probe_duration: float = 60
    mqtt_duration: float = 60
    copy_rows: int = 1_000_000
    inprocess_batches: int = 30
    history: list[int] = field(default_factory=lambda: [1_000_000, 50_000_000])
    history_batches: int = 10
    http_processes: int = 2
    connections: int = 16

    @classmethod
    def quick(cls) -> "Mode":
        return cls(
            name="quick",
            sensors=[10_000],
            duration=15,
            drain=10,
            reply_wait=10,
            patience=15,
            idle_probe=10,
            probe_duration=15,
            mqtt_duration=10,
            copy_rows=500_000,
            inprocess_batches=10,
            history=[200_000, 1_000_000],
            history_batches=5,
        )

    @classmethod
    def full(cls) -> "Mode":
        return cls(name="full", sensors=[10_000, 100_000])

    def summary(self) -> str:
        history = ", ".join(f"{n:,}" for n in self.history) or "none"
        return (
            f"sensors {', '.join(f'{n:,}' for n in self.sensors)}; {self.rate:,} readings/s offered for "
            f"{self.duration:.0f} s over HTTP ({self.http_processes} processes x {self.connections} connections, "
            f"batches of 1,000) and {self.mqtt_duration:.0f} s over MQTT (QoS 1, a client per gateway); "
            f"evaluation allowed {self.drain:.0f} s to catch up; probe {self.idle_probe:.0f} s idle and "
            f"{self.probe_duration:.0f} s under {self.background:,} readings/s; COPY floor of {self.copy_rows:,} rows; "
            f"history sizes {history}; the probe's sensors never marked flapping (WARNING_FLAP_LIMIT="
            f"{PROBE_FLAP_LIMIT:,})"
        )


def count(text: str) -> int:
    """10000, 10k, 1M, 1.5M."""
    text = text.strip().lower().replace("_", "").replace(",", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if factor > 1 else text
    try:
        return int(float(number) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count such as 10000, 10k or 1M") from None


def counts(text: str) -> list[int]:
    if text.strip().lower() in {"", "0", "none"}:
        return []
    return [count(part) for part in text.split(",")]


def phases(text: str) -> set[str]:
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    unknown = chosen - set(PHASES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown phases {sorted(unknown)}; choose from {', '.join(PHASES)}")
    return chosen


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="The CitySafety benchmark (issue #7): load generators against the stack as `make run` starts "
        "it, on a database, Redis and Mosquitto of its own; prints one table and writes it to bench/results/.",
        epilog=f"Phases: {', '.join(PHASES)}. The bench database (BENCH_DATABASE_URL, default citysafety_bench on "
        "the PostgreSQL of DATABASE_URL) is dropped and created again on every run.",
    )
    parser.add_argument("--quick", action="store_true", help="a first look in under 3 minutes (`make bench QUICK=1`)")
    parser.add_argument("--sensors", type=counts, help="sensor counts of the HTTP load, e.g. 10k,100k")
    parser.add_argument("--rate", type=count, help="readings/s offered by the HTTP and MQTT load (20,000)")
    parser.add_argument("--duration", type=float, help="seconds of HTTP load per sensor count")
    parser.add_argument("--drain", type=float, help="seconds allowed after a load for evaluation to catch up")
    parser.add_argument("--background", type=count, help="readings/s of HTTP background under the probe (5,000)")
    parser.add_argument("--probe-duration", type=float, help="seconds the probe runs under the background")
    parser.add_argument("--mqtt-duration", type=float, help="seconds of MQTT load")
    parser.add_argument("--copy-rows", type=count, help="rows of the COPY floor")
    parser.add_argument("--history", type=counts, help="sizes of the readings table to measure at, e.g. 1M,50M")
    parser.add_argument(
        "--grown-history",
        action="store_true",
        help="keep the readings table's indexes up row by row while filling history (as a real table grows; "
        "about three times slower) instead of building them again at the end",
    )
    parser.add_argument("--http-processes", type=int, help="HTTP load generator processes (2)")
    parser.add_argument("--skip", type=phases, default=set(), help="phases to leave out, comma-separated")
    parser.add_argument("--results", type=Path, default=report.RESULTS, help="folder for the tables")
    parser.add_argument("--dry-run", action="store_true", help="print what would run, and stop")
    return parser.parse_args(argv)


def mode_from(args: argparse.Namespace) -> Mode:
    mode = Mode.quick() if args.quick else Mode.full()
    overrides = {
        "sensors": args.sensors,
        "rate": args.rate,
        "duration": args.duration,
        "drain": args.drain,
        "background": args.background,
        "probe_duration": args.probe_duration,
        "mqtt_duration": args.mqtt_duration,
        "copy_rows": args.copy_rows,
        "history": args.history,
        "http_processes": args.http_processes,
    }
    return replace(mode, **{key: value for key, value in overrides.items() if value is not None})


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S', time.gmtime())}Z] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = mode_from(args)
    if args.dry_run:
        skipped = f"; skipping {', '.join(sorted(args.skip))}" if args.skip else ""
        print(f"{mode.name} mode: {mode.summary()}{skipped}")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench = Bench(mode, skip=args.skip, grown_history=args.grown_history)
    try:
        bench.run()
    finally:
        if bench.report.figures:
            print(bench.report.markdown())
            path = bench.report.write(args.results)
            say(f"table written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


class Bench:
    def __init__(self, mode: Mode, *, skip: set[str], grown_history: bool = False) -> None:
        self.mode = mode
        self.skip = skip
        self.grown_history = grown_history
        self.report = report.Report(
            mode=mode.name,
            started_at=report.utc_now(),
            machine=report.machine_info(),
            commit=report.commit_info(),
            settings={"summary": mode.summary(), "mode": mode.__dict__},
        )
        self.prefix = f"bench-{uuid4().hex[:8]}/gateways"
        self.stack: Stack | None = None
        self.monitor: Monitor | None = None
        self.mp = multiprocessing.get_context("spawn")
        self.cookie = ""

    def wanted(self, phase: str) -> bool:
        return phase not in self.skip

    # -- the run -------------------------------------------------------------

    def run(self) -> None:
        with ExitStack() as cleanup:
            redis_server = redis_start()
            cleanup.callback(redis_server.stop)
            mosquitto = mosquitto_start()
            cleanup.callback(mosquitto.stop)
            self.redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
            self.mqtt_url = f"mqtt://127.0.0.1:{mosquitto.port}"
            stack_env = self.configure()

            from bench import db

            self.db = db
            say(f"bench database {self.database_url}: creating, migrating, seeding {self.mode.sensors[0]:,} sensors")
            db.database_recreate(self.database_url)
            db.migrate()
            self.population = db.Population()
            db.population_seed(self.population, sensors=self.mode.sensors[0])
            self.duty = db.duty_officer_create()
            self.fresh_sensor_bytes = self.sensor_bytes_per_row()

            if self.wanted("copy"):
                self.copy_phase()
            if self.wanted("inprocess"):
                self.inprocess_phase()
            self.forgive_backlog(flush=True)

            self.monitor = Monitor(dsn=self.dsn, database=self.database, redis_url=self.redis_url)
            self.monitor.start()
            cleanup.callback(self.monitor.stop)
            stack_wanted = any(self.wanted(p) for p in ("idle", "http", "probe", "mqtt"))
            if stack_wanted:
                say("starting the stack (scripts/run.sh)")
                self.stack = stack_start(env=stack_env, log=ROOT / "var" / "bench" / "stack.log")
                cleanup.callback(self.stop_stack)
                self.monitor.stack = self.stack
                self.stack_ready()
                if self.wanted("idle"):
                    self.probe_phase(background=0, duration=self.mode.idle_probe)
                if self.wanted("http"):
                    for sensors in self.mode.sensors:
                        if sensors > self.population.sensors:
                            say(f"seeding up to {sensors:,} sensors")
                            db.population_seed(self.population, sensors=sensors)
                        self.load_phase("http", sensors=sensors, rate=self.mode.rate, duration=self.mode.duration)
                if self.wanted("probe"):
                    self.probe_phase(background=self.mode.background, duration=self.mode.probe_duration)
                if self.wanted("mqtt") and self.mode.mqtt_duration > 0:
                    self.mqtt_ready()
                    self.load_phase(
                        "mqtt", sensors=self.mode.sensors[0], rate=self.mode.rate, duration=self.mode.mqtt_duration
                    )
                self.stop_stack()
                self.storage_figures()
            if self.wanted("history") and self.mode.history:
                self.history_phase()

    def configure(self) -> dict[str, str]:
        """Point this process and the stack at the bench's own database, Redis and broker."""
        from bench.db import database_url

        self.database_url = database_url(os.environ.get("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/citysafety"))
        parts = urlsplit(self.database_url)
        self.database = parts.path.lstrip("/")
        self.dsn = {
            "dbname": self.database,
            "user": parts.username or "postgres",
            "password": parts.password,
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
        }
        shared = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": self.redis_url,
            "CHANNEL_LAYER_REDIS_URL": self.redis_url,
            "MQTT_URL": self.mqtt_url,
            "MQTT_TOPIC_PREFIX": self.prefix,
            "DJANGO_SETTINGS_MODULE": "citysafety.settings",
        }
        stack_env = {k: v for k, v in os.environ.items() if k not in {"PGAPPNAME", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
        stack_env.update(shared)
        # The probe's sensors flip between Level I and normal every 2 s, by
        # design; with the platform's flap limit they would be marked flapping
        # after four flips, and a flapping warning's changes are pushed
        # coalesced, once a second (warning.flapping): the probe would measure
        # that second, not the path of a new warning. Flips are still counted
        # (the same queries); the mark is never set.
        stack_env["WARNING_FLAP_LIMIT"] = str(PROBE_FLAP_LIMIT)
        os.environ.update(shared)
        os.environ["PGAPPNAME"] = BENCH_APPLICATION_NAME
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.conf import settings

        # In-process figures as production runs them: DEBUG would keep every
        # query in memory, which the ingest path does not do in production.
        settings.DEBUG = False
        return stack_env

    # -- in-process ------------------------------------------------------------

    def copy_phase(self) -> None:
        say(f"COPY floor: {self.mode.copy_rows:,} rows")
        floor = self.db.copy_floor(rows=self.mode.copy_rows, sensors=self.population.sensors)
        self.floor = floor["rows_per_second"]
        self.report.add(
            f"COPY floor: {floor['rows']:,} generated readings COPYed into a table like the readings table "
            "(same columns and indexes), one transaction",
            f"{self.floor:,.0f} rows/s",
            **floor,
        )

    def inprocess_phase(self) -> None:
        from bench import inprocess

        say(f"in-process ingest and evaluation: {self.mode.inprocess_batches} batches of 1,000")
        result = inprocess.measure(
            self.population, batches=self.mode.inprocess_batches, sensors=self.population.sensors
        )
        floor = getattr(self, "floor", None)
        share = result["view_rate"] / floor if floor else None
        self.report.add(
            "in-process ingest through the whole API view, batches of 1,000",
            f"{result['view_rate']:,.0f} readings/s"
            + (f" = {share:.1%} of the COPY floor" if share is not None else "")
            + f" (batch median {fmt_seconds(result['batch_median'])}, p95 {fmt_seconds(result['batch_p95'])})",
            f"≥ {TARGET_FLOOR_SHARE:.0%} of the COPY floor",
            None if share is None else share >= TARGET_FLOOR_SHARE,
            **result,
        )
        self.report.add("… its JSON parsing alone", f"{result['parse_rate']:,.0f} readings/s")
        service_share = f" = {result['service_rate'] / floor:.1%} of the floor" if floor else ""
        self.report.add(
            "… its ingest service alone (validation, insert, sensor state; parsed batches)",
            f"{result['service_rate']:,.0f} readings/s{service_share}",
        )
        self.report.add(
            "in-process evaluation of those readings (warning.services.sensors_evaluate)",
            f"{fmt_int(result['evaluation_rate'])} readings/s ({result['evaluated']:,} readings)",
        )

    # -- the stack -------------------------------------------------------------

    def stack_ready(self) -> None:
        import requests

        self.stack.wait_listening()
        say(
            f"stack listening: daphne on {self.stack.port}"
            + (f", ingest server on {self.stack.ingest_port}" if self.stack.has_ingest_server else " (serves the API)")
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.cookie = probe.session_cookie(self.stack.web_url, *self.duty)
                break
            except (requests.RequestException, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        # One batch through the whole pipeline: the worker is up when it is evaluated.
        gateway = self.population.probe_gateway
        from datetime import UTC, datetime

        when = datetime.now(UTC).isoformat()
        body = [{"sensor": code, "observed_at": when, "value": 1.0} for code in self.population.probe_codes]
        sent = time.monotonic()
        response = requests.post(
            f"{self.stack.ingest_url}/api/v1/readings/",
            json=body,
            headers={"Authorization": f"Bearer {gateway.token}"},
            timeout=60,
            allow_redirects=False,
        )
        if response.status_code != 200:
            raise RuntimeError(f"the warm-up batch was refused: {response.status_code} {response.text[:300]}")
        self.wait_caught_up(after=sent, timeout=120, what="the warm-up batch evaluated")
        say("stack ready: a batch went through ingest and evaluation")

    def mqtt_ready(self) -> None:
        """The bridge answers a batch on its results topic."""
        import json
        import threading

        import paho.mqtt.client as mqtt

        gateway = self.population.probe_gateway
        parts = urlsplit(self.mqtt_url)
        answered = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{self.prefix}-ready")
        client.on_message = lambda *_: answered.set()
        client.connect(parts.hostname, parts.port)
        client.loop_start()
        try:
            client.subscribe(f"{self.prefix}/{gateway.code}/results", qos=1)
            deadline = time.monotonic() + 90
            while not answered.is_set():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the MQTT bridge did not answer within 90 s:\n{self.stack.output_tail()}")
                from datetime import UTC, datetime

                payload = {
                    "token": gateway.token,
                    "readings": [
                        {"sensor": code, "observed_at": datetime.now(UTC).isoformat(), "value": 1.0}
                        for code in self.population.probe_codes
                    ],
                }
                client.publish(f"{self.prefix}/{gateway.code}/readings", json.dumps(payload), qos=1)
                answered.wait(5)
        finally:
            client.loop_stop()
            client.disconnect()

    def stop_stack(self) -> None:
        if self.stack is not None:
            say("stopping the stack")
            self.stack.stop()
            if self.monitor is not None:
                self.monitor.stack = None
            self.stack = None

    def wait_caught_up(self, *, after: float, timeout: float, what: str) -> float | None:
        """Wait for a sample taken after ``after`` with nothing behind; its time, or None at the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sample = self.monitor.latest()
            if sample is not None and sample.at > after and sample.sensors_behind == 0:
                return sample.at
            if self.stack is not None and not self.stack.alive():
                raise RuntimeError(f"the stack stopped:\n{self.stack.output_tail()}")
            time.sleep(0.2)
        if what:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s:\n{self.stack.output_tail()}")
        return None

    def forgive_backlog(self, *, flush: bool = False) -> None:
        """Start the next phase with nothing waiting: drop queued tasks, count every reading evaluated."""
        from django.db import connection, transaction

        from bench import schema

        if flush:
            import redis

            redis.Redis.from_url(self.redis_url).flushall()
        else:
            from citysafety.celery import app

            app.control.purge()
        with transaction.atomic(), connection.cursor() as cursor:
            schema.evaluation_mark_all_done(cursor)

    # -- load ------------------------------------------------------------------

    def generators(self, specs: list) -> tuple[list, float, list]:
        """Start these processes, release them together; (results, start time, pids)."""
        ready, results, go = self.mp.Queue(), self.mp.Queue(), self.mp.Event()
        start_wall = self.mp.Value("d", 0.0)
        processes = [self.mp.Process(target=target_of(spec), args=(spec, ready, go, start_wall, results), daemon=True)
                     for spec in specs]  # fmt: skip
        for process in processes:
            process.start()
        if self.monitor is not None:
            self.monitor.extra_processes = {p.pid: LOADGEN_CPU for p in processes}
        for _ in processes:
            ready.get(timeout=120)
        start_wall.value = time.time() + 0.5
        started = time.monotonic() + 0.5
        go.set()
        longest = max(getattr(spec, "duration", 0) + getattr(spec, "timeout", 0) + getattr(spec, "patience", 0)
                      for spec in specs)  # fmt: skip
        collected = [results.get(timeout=longest + 120) for _ in processes]
        for process in processes:
            process.join(timeout=30)
        return collected, started, [p.pid for p in processes]

    def load_specs(self, kind: str, *, sensors: int, rate: float, duration: float) -> list[loadgen.LoadSpec]:
        shares = self.population.gateways_for(sensors)
        processes = 1 if kind == "mqtt" else max(1, min(self.mode.http_processes, len(shares)))
        target = self.mqtt_url if kind == "mqtt" else self.stack.ingest_url
        specs = []
        for i in range(processes):
            mine = [loadgen.Gateway(g.code, g.token, g.first, g.count) for g in shares[i::processes]]
            share = sum(g.count for g in mine) / sum(g.count for g in shares)
            specs.append(
                loadgen.LoadSpec(
                    kind=kind,
                    target=target,
                    gateways=mine,
                    rate=rate * share,
                    duration=duration,
                    connections=self.mode.connections,
                    timeout=self.mode.reply_wait if kind == "mqtt" else 60.0,
                    topic_prefix=self.prefix,
                    name=f"{kind}-{i}",
                )
            )
        return specs

    def load_phase(self, kind: str, *, sensors: int, rate: float, duration: float) -> None:
        label = f"{kind.upper()}, {sensors:,} sensors, {rate:,.0f} readings/s offered for {duration:.0f} s"
        say(f"load: {label}")
        after_id = self.db.max_reading_id()
        self.monitor.cpu_begin()
        results, started, _ = self.generators(self.load_specs(kind, sensors=sensors, rate=rate, duration=duration))
        load = LoadSummary.of(results, started=started, duration=duration)
        caught = self.wait_caught_up(after=load.ended, timeout=self.mode.drain, what="")
        cpu, wall = self.monitor.cpu_end()
        end = caught or time.monotonic()
        lag = lag_summary(self.monitor.window(started, end))
        evaluated = self.evaluated_since(after_id)
        stored = self.db.max_reading_id() - after_id
        self.add_load_figures(
            label, kind, load, rate=rate, caught=caught, end=end, lag=lag, evaluated=evaluated, stored=stored
        )
        self.add_cpu_figure(label, cpu, wall)
        self.add_sessions_figure(label, lag)
        if caught is None:
            self.forgive_backlog()

    def probe_phase(self, *, background: int, duration: float) -> None:
        label = (
            f"reading → Level I warning on the duty officer's socket, under {background:,} readings/s of HTTP load"
            if background
            else "reading → Level I warning on the duty officer's socket, idle"
        )
        say(f"probe: {label}, {duration:.0f} s")
        spec = probe.ProbeSpec(
            web_url=self.stack.web_url,
            ingest_url=self.stack.ingest_url,
            cookie=self.cookie,
            token=self.population.probe_gateway.token,
            codes=self.population.probe_codes,
            duration=duration,
            level1_value=self.db.LEVEL1_VALUE,
            normal_value=self.db.NORMAL_VALUE,
            patience=self.mode.patience,
        )
        specs: list = [spec]
        if background:
            specs += self.load_specs("http", sensors=self.mode.sensors[0], rate=background, duration=duration)
        self.monitor.cpu_begin()
        results, started, _ = self.generators(specs)
        measured = next(r for r in results if isinstance(r, probe.ProbeResult))
        loads = [r for r in results if isinstance(r, loadgen.LoadResult)]
        # The probe waited for its last warnings; the phase ends there.
        cpu, wall = self.monitor.cpu_end()
        lag = lag_summary(self.monitor.window(started, time.monotonic()))
        latest = self.monitor.wait_for_sample_after(time.monotonic())
        # A warning never seen counts as infinitely late: leaving it out would flatter the percentiles.
        latencies = measured.latencies + [math.inf] * measured.lost
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        background_text = ""
        if loads:
            load = LoadSummary.of(loads, started=started, duration=duration)
            background_text = f"; background accepted {load.accepted_rate:,.0f} readings/s"
        value = (
            f"p50 / p95 / p99 {fmt_latencies(latencies, beyond=self.mode.patience)} ({len(latencies)} samples over "
            f"{measured.span:.0f} s; {measured.lost} not seen within {self.mode.patience:.0f} s, {measured.refused} "
            f"refused; {measured.messages} warning messages received{background_text}; evaluation lag max "
            f"{fmt_seconds(lag.get('max'))})"
        )
        if measured.errors:
            value += f"; errors: {'; '.join(measured.errors[:3])}"
        if background:
            target = f"p99 ≤ {TARGET_P99:.0f} s (≥ 30 samples over ≥ 60 s)"
            met = None if p99 is None else p99 <= TARGET_P99 and measured.lost == 0
            if met and (len(latencies) < 30 or measured.span < 59):
                met = None  # good, but too short a run to claim the target
        else:
            target = f"p50 ≤ {TARGET_IDLE_P50 * 1000:.0f} ms"
            met = None if p50 is None else p50 <= TARGET_IDLE_P50 and measured.lost == 0
        self.report.add(label, value, target, met, latencies=measured.latencies, lost=measured.lost, lag=lag,
                        statuses=measured.statuses, errors=measured.errors)  # fmt: skip
        self.add_cpu_figure(label.split(",")[0] + (f" under {background:,}/s" if background else ", idle"), cpu, wall)
        if latest.sensors_behind:
            self.forgive_backlog()

    def evaluated_since(self, after_id: int) -> int:
        from django.db import connection

        from bench import schema

        with connection.cursor() as cursor:
            return schema.readings_evaluated(cursor, after_id=after_id)

    def add_load_figures(self, label, kind, load, *, rate, caught, end, lag, evaluated, stored) -> None:
        statuses = ", ".join(f"{status_name(s)} x{n:,}" for s, n in sorted(load.statuses.items()))
        sustained = (
            rate >= TARGET_RATE and load.accepted >= 0.99 * load.offered and load.tail < TARGET_LAG and not load.errors
        )
        floor = getattr(self, "floor", None)
        share = f" = {load.accepted_rate / floor:.1%} of the COPY floor" if floor else ""
        value = (
            f"{load.accepted_rate:,.0f} readings/s{share} ({load.accepted:,} of {load.offered:,} offered); answers: "
            f"{statuses or 'none'}; batches not sent in time: {load.not_sent:,}; "
            f"{'reply' if kind == 'mqtt' else 'request'} p50 / p99 {fmt_seconds(load.p50)} / {fmt_seconds(load.p99)}; "
            f"last answer {load.tail:.1f} s after the load"
        )
        if kind == "mqtt":
            # Over MQTT a batch is stored before its reply is sent; a gateway
            # counts only what was answered, but the store tells where the time goes.
            value += f"; stored by the end of the phase: {stored:,} readings"
        if load.errors:
            value += f"; errors: {'; '.join(load.errors[:3])}"
        self.report.add(f"{label}: accepted", value, f"≥ {TARGET_RATE:,} readings/s, sustained", sustained,
                        **load.raw())  # fmt: skip
        elapsed = end - load.started
        evaluated_rate = evaluated / elapsed if elapsed > 0 else None
        if caught is not None:
            status = f"caught up {caught - load.ended:.1f} s after the load"
        else:
            status = (
                f"not caught up {self.mode.drain:.0f} s after the load: {lag.get('max_sensors_behind', 0):,} sensors "
                f"behind at most; the backlog was dropped before the next phase"
            )
        self.report.add(
            f"{label}: evaluated",
            f"{fmt_int(evaluated_rate)} readings/s ({evaluated:,} readings); {status}",
            f"≥ {TARGET_RATE:,} readings/s",
            sustained and caught is not None and caught - load.ended <= TARGET_LAG,
            evaluated=evaluated,
            caught_after=None if caught is None else caught - load.ended,
        )
        self.report.add(
            f"{label}: evaluation lag",
            f"max {fmt_seconds(lag.get('max'))}, median {fmt_seconds(lag.get('median'))} ({lag.get('samples', 0)} "
            f"samples, load and catching up; a sample took up to {fmt_seconds(lag.get('max_query_seconds'))}); at most "
            f"{lag.get('max_queued_tasks', 0):,} tasks queued",
            f"< {TARGET_LAG:.0f} s throughout",
            None if not lag.get("samples") else lag["max"] < TARGET_LAG,
            **lag,
        )

    def add_sessions_figure(self, label: str, lag: dict) -> None:
        shares = lag.get("sessions") or {}
        if not shares:
            return
        parts = [f"{state} {share:.0%}" for state, share in list(shares.items())[:5]]
        self.report.add(
            f"what the database sessions of {label} were doing (busy sessions, sampled with the lag)",
            ", ".join(parts),
            sessions=shares,
        )

    def add_cpu_figure(self, label: str, cpu: dict[str, float], wall: float) -> None:
        if not cpu or wall <= 0:
            return
        apart = (SERVER_CPU, MONITOR_CPU, LOADGEN_CPU)
        platform = {name: seconds for name, seconds in cpu.items() if name not in apart}
        parts = [f"{name} {seconds / wall:.0%}" for name, seconds in sorted(platform.items(), key=lambda i: -i[1])
                 if seconds / wall >= 0.005]  # fmt: skip
        others = [f"{name} {cpu[name] / wall:.0%}" for name in apart if name in cpu]
        self.report.add(
            f"CPU during {label} ({wall:.0f} s, the load and what followed it), share of one core",
            f"{', '.join(parts)}; together {sum(platform.values()) / wall:.0%} of the {os.cpu_count()} cores' "
            f"{os.cpu_count() * 100}%. Beside them: {', '.join(others)}",
            seconds=cpu,
            wall=wall,
        )

    # -- after the load --------------------------------------------------------

    def sensor_bytes_per_row(self) -> float:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size('monitoring_sensor')::float / greatest(count(*), 1) "
                           "FROM monitoring_sensor")  # fmt: skip
            return cursor.fetchone()[0]

    def storage_figures(self) -> None:
        say("storage: sensor table, then VACUUM and bytes per reading")
        figures = self.db.storage()
        per_sensor = figures["sensor_table_bytes"] / max(figures["sensors"], 1)
        growth = per_sensor / self.fresh_sensor_bytes if self.fresh_sensor_bytes else None
        hot = figures["sensor_hot_updates"] / figures["sensor_updates"] if figures["sensor_updates"] else 0
        self.report.add(
            "sensor table after the run",
            f"{fmt_bytes(figures['sensor_table_bytes'])} for {figures['sensors']:,} sensors = {per_sensor:,.0f} B "
            f"each (x{growth:.1f} their size when seeded); {figures['sensor_dead_rows']:,} dead rows, "
            f"{figures['sensor_updates']:,} row updates ({hot:.0%} HOT), autovacuumed {figures['sensor_autovacuums']} "
            "times",
            "stays its own size (here: ≤ x2)",
            None if growth is None or not figures["sensor_updates"] else growth <= 2,
            **figures,
        )
        state_hot = figures["state_hot_updates"] / figures["state_updates"] if figures["state_updates"] else 0
        self.report.add(
            "sensor state table after the run (written by every batch)",
            f"{fmt_bytes(figures['state_table_bytes'])}; {figures['state_dead_rows']:,} dead rows, "
            f"{figures['state_updates']:,} row updates ({state_hot:.0%} HOT), "
            f"autovacuumed {figures['state_autovacuums']} times",
        )
        self.report.add(
            "bytes per reading (readings table with its indexes, after VACUUM)",
            f"{fmt_int(figures['bytes_per_reading'])} B ({figures['readings']:,} readings in "
            f"{fmt_bytes(figures['reading_bytes'])})",
        )

    def history_phase(self) -> None:
        from bench import inprocess

        if not self.mode.sensors:
            return
        self.db.readings_truncate()
        minute, points = 0, []
        for size in self.mode.history:
            say(f"history: filling the readings table up to {size:,} readings")
            seeded = self.db.history_seed(
                target=size, sensors=self.population.sensors, minute=minute, grown=self.grown_history
            )
            minute = seeded["minute"]
            say(f"history: measuring at {seeded['present']:,} readings")
            # A first round warms the caches and lets autovacuum see the new rows; the second counts.
            inprocess.measure(self.population, batches=2, sensors=self.population.sensors, steps=False)
            result = inprocess.measure(
                self.population, batches=self.mode.history_batches, sensors=self.population.sensors, steps=False
            )
            ingest_ms = result["batch_median"] * 1000
            eval_us = result["evaluation_seconds"] / max(result["evaluated"], 1) * 1e6
            points.append((seeded["present"], ingest_ms, eval_us))
            self.report.add(
                f"at {seeded['present']:,} stored readings ({self.population.sensors:,} sensors): in-process cost",
                f"ingest {ingest_ms:.0f} ms per batch of 1,000 (median of {result['batches']}); evaluation "
                f"{eval_us:.0f} µs per reading"
                + (
                    f" (history written at {seeded['rows_per_second']:,.0f} rows/s, indexes {seeded['indexes']})"
                    if seeded.get("rows_per_second")
                    else ""
                ),
                seeded=seeded,
                **result,
            )
            self.forgive_backlog(flush=True)
        if len(points) >= 2:
            (small, ingest_small, eval_small), (large, ingest_large, eval_large) = points[0], points[-1]
            ingest_growth, eval_growth = ingest_large / ingest_small, eval_large / eval_small
            self.report.add(
                f"cost growth from {small:,} to {large:,} stored readings",
                f"ingest x{ingest_growth:.2f}, evaluation x{eval_growth:.2f}",
                f"the same (≤ x{TARGET_HISTORY_GROWTH} for noise)",
                ingest_growth <= TARGET_HISTORY_GROWTH and eval_growth <= TARGET_HISTORY_GROWTH,
            )


def target_of(spec):
    return probe.run if isinstance(spec, probe.ProbeSpec) else loadgen.run


def status_name(status: int) -> str:
    return {0: "no answer", -1: "connection error"}.get(status, str(status))


@dataclass
class LoadSummary:
    started: float
    ended: float  # the later of the load's end and its last answer
    duration: float
    offered: int
    accepted: int
    not_sent: int
    statuses: Counter
    latencies: list[float]
    errors: list[str]

    @classmethod
    def of(cls, results: list[loadgen.LoadResult], *, started: float, duration: float) -> "LoadSummary":
        outcomes = [o for r in results for o in r.outcomes]
        answered = [o for o in outcomes if o.done is not None]
        last = max((o.done for o in answered), default=started + duration)
        return cls(
            started=started,
            ended=max(last, started + duration),
            duration=duration,
            offered=sum(r.offered_readings for r in results),
            accepted=sum(o.accepted for o in outcomes),
            not_sent=sum(r.not_sent for r in results),
            statuses=Counter(o.status for o in outcomes),
            latencies=[o.done - o.sent for o in answered],
            errors=[e for r in results for e in r.errors],
        )

    @property
    def accepted_rate(self) -> float:
        return self.accepted / (self.ended - self.started)

    @property
    def tail(self) -> float:
        return self.ended - (self.started + self.duration)

    @property
    def p50(self) -> float | None:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float | None:
        return percentile(self.latencies, 99)

    def raw(self) -> dict:
        return {
            "offered": self.offered,
            "accepted": self.accepted,
            "accepted_rate": self.accepted_rate,
            "not_sent": self.not_sent,
            "statuses": dict(self.statuses),
            "latency_p50": self.p50,
            "latency_p99": self.p99,
            "tail": self.tail,
            "errors": self.errors[:10],
        }


if __name__ == "__main__":
    sys.exit(main())
