"""``python -m bench.no_data``: the no-data sweep over a city of sensors (issue #10).

A fresh database of its own (``<bench database>_no_data``, dropped and
created again): 100,000 sensors of one type under one no-data rule (silent
15 minutes: Level III), served by 100 gateways. Every sensor reported a
minute ago but for 1,000 scattered sensors that fell silent on their own and
the 1,000 sensors of one gateway gone silent. It times:

- the first sweep, which opens up to a sweep's worth of warnings (1,000)
  and folds the silent gateway's sensors into one outage;
- the sweep in the steady state (what beat runs every minute): the one
  set-based query finds nothing new;
- as the machine's floor in the same run, one sequential pass counting the
  silent sensor states (the least any sweep must read).

Run it under ``flock /work/bench.lock`` (one benchmark at a time on a machine).
"""

import argparse
import os
import statistics
import sys
import time

SILENT_ALONE = 1000
GATEWAYS = 100


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.no_data", description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="10,000 sensors")
    args = parser.parse_args(argv)
    sensors = 10_000 if args.quick else args.sensors

    from bench.db import own_database

    own_database("_no_data")
    seed(sensors=sensors)
    figures = measure(repeat=args.repeat)
    print(table(figures, sensors=sensors))
    return 0


def seed(*, sensors: int) -> None:
    from django.db import connection

    from bench.db import _sensors_insert
    from monitoring.models import Gateway, RiskDomain, Sensor, SensorType
    from warning.models import RuleKind, ThresholdRule

    domain = RiskDomain.objects.create(code="bench", name="Bench", category="lifeline")
    sensor_type = SensorType.objects.create(code="bench-level", name="Bench level", domain=domain, metric="level")
    ThresholdRule.objects.create(
        name="Bench silent 15 minutes",
        sensor_type=sensor_type,
        kind=RuleKind.NO_DATA,
        no_data_seconds=900,
        no_data_level=3,
        dead_band=0,
    )
    gateways = Gateway.objects.bulk_create(
        Gateway(code=f"gw-nd-{n:03d}", name=f"Gateway {n}", token_hash=Gateway.hash_token(f"bench-nd-{n}"))
        for n in range(GATEWAYS)
    )
    per_gateway = sensors // GATEWAYS
    _sensors_insert(
        table=Sensor._meta.db_table,
        sensor_type_id=sensor_type.pk,
        codes=[f"ND-{n:06d}" for n in range(sensors)],
        gateway_ids=[gateways[min(n // per_gateway, GATEWAYS - 1)].pk for n in range(sensors)],
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Every sensor reported a minute ago, but one in every sensors/1000
        # (on live gateways) an hour ago, and the whole of the last gateway.
        cursor.execute(
            "INSERT INTO monitoring_sensorstate (sensor_id, latest_value, latest_observed_at, latest_reading_id)"
            " SELECT s.id, 1.0,"
            "  CASE WHEN s.gateway_id = %s OR s.id %% %s = 0 THEN now() - interval '1 hour'"
            "       ELSE now() - interval '1 minute' END, NULL"
            " FROM monitoring_sensor AS s",
            [gateways[-1].pk, max(sensors // SILENT_ALONE, 2)],
        )
        cursor.execute("UPDATE monitoring_sensor SET status = 'online'")
        cursor.execute(
            "UPDATE monitoring_gateway SET last_seen_at = CASE WHEN id = %s THEN now() - interval '1 hour'"
            " ELSE now() END",
            [gateways[-1].pk],
        )
        cursor.execute("VACUUM ANALYZE monitoring_sensorstate")
        cursor.execute("VACUUM ANALYZE monitoring_sensor")
    print(f"seeded {sensors:,} sensors in {time.perf_counter() - started:.1f} s", flush=True)


def measure(*, repeat: int) -> dict:
    from django.db import connection

    from warning.no_data import sensors_warn_silent

    started = time.perf_counter()
    first = sensors_warn_silent()
    first_seconds = time.perf_counter() - started
    # Until nothing is left to open: the warnings past a sweep's limit wait a sweep each.
    while sensors_warn_silent().opened:
        pass
    steady, floor = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        result = sensors_warn_silent()
        steady.append(time.perf_counter() - started)
        assert result.opened == 0, result
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM monitoring_sensorstate WHERE latest_observed_at < now() - interval '15 minutes'"
            )
            cursor.fetchone()
        floor.append(time.perf_counter() - started)
    from warning.models import GatewayOutage, Warning

    return {
        "first": first_seconds,
        "first_result": first,
        "steady": statistics.median(steady),
        "steady_max": max(steady),
        "floor": statistics.median(floor),
        "warnings": Warning.objects.count(),
        "outages": GatewayOutage.objects.count(),
        "load": os.getloadavg()[0],
        "repeat": repeat,
    }


def table(figures: dict, *, sensors: int) -> str:
    first = figures["first_result"]
    steady, floor = figures["steady"], figures["floor"]
    return "\n".join(
        [
            "",
            "| figure | measured | |",
            "| --- | --- | --- |",
            f"| no-data sweep, steady state, {sensors:,} sensors, median of {figures['repeat']} |"
            f" {steady * 1000:.0f} ms (slowest {figures['steady_max'] * 1000:.0f} ms) | x{steady / floor:.1f} the floor |",
            f"| first sweep: {first.opened:,} warnings opened, {first.folded_sensors:,} sensors folded into"
            f" {first.outages_opened} gateway outage | {figures['first'] * 1000:.0f} ms | |",
            f"| floor: one pass counting the silent sensor states | {floor * 1000:.1f} ms | |",
            f"| warnings in the end / gateway outages | {figures['warnings']:,} / {figures['outages']} | |",
            f"| load average at the end (1 min) | {figures['load']:.2f} | |",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
