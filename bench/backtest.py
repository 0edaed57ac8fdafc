"""``make bench-backtest``: a rule's backtest over a week of a hundred sensors (issue #10).

A fresh database of its own (``<bench database>_backtest``, dropped and
created again), 100 sensors reporting once a minute for 7 days (1,008,000
readings) with anomalies of every level, then the admin's backtest of a
changed rule against the saved one, run several times. It prints the
median time beside the 5 s target, split into reading the readings and
replaying them, and, as the machine's floor in the same run, the time to
COPY those rows out of PostgreSQL without parsing.
"""

import argparse
import io
import os
import statistics
import sys
import time

TARGET_SECONDS = 5.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backtest", description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from bench.db import own_database

    own_database("_backtest")
    rule, sensor_ids = seed(sensors=args.sensors, days=args.days)
    figures = measure(rule, sensor_ids, days=args.days, repeat=args.repeat)
    print(table(figures, sensors=args.sensors, days=args.days))
    return 0


def seed(*, sensors: int, days: int):
    """Sensors of one type under one rule, a reading a minute each: a daily
    wave below Level III, noise, and a burst of each level every few hours."""
    from django.db import connection

    from bench.db import _sensors_insert
    from monitoring.models import RiskDomain, Sensor, SensorType
    from monitoring.services import gateway_create
    from warning.models import ThresholdRule

    domain = RiskDomain.objects.create(code="bench", name="Bench", category="lifeline")
    sensor_type = SensorType.objects.create(
        code="bench-pressure", name="Bench pressure", domain=domain, metric="pressure", unit="MPa"
    )
    rule = ThresholdRule.objects.create(
        name="Bench pressure upper limit",
        sensor_type=sensor_type,
        level3_threshold=10.0,
        level2_threshold=20.0,
        level1_threshold=50.0,
        dead_band=1.0,
    )
    gateway, _ = gateway_create(code="gw-bench-backtest", name="Bench backtest")
    _sensors_insert(
        table=Sensor._meta.db_table,
        sensor_type_id=sensor_type.pk,
        codes=[f"BT-{n:05d}" for n in range(sensors)],
        gateway_ids=[gateway.pk] * sensors,
    )
    sensor_ids = list(Sensor.objects.order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Minute m of sensor s: a wave peaking at 8, noise of ±1.5, and every
        # 240 + s minutes a 15-minute burst whose height cycles through the levels.
        cursor.execute(
            "INSERT INTO monitoring_reading (sensor_id, observed_at, value, received_at)"
            " SELECT s.id, now() - make_interval(mins => m), "
            "  CASE WHEN m %% (240 + s.n) < 15 THEN (ARRAY[12.0, 25.0, 60.0])[1 + (m / (240 + s.n)) %% 3]"
            "       ELSE 5 + 3 * sin(m / 229.0) END + (random() * 3 - 1.5),"
            "  now() - make_interval(mins => m)"
            " FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM monitoring_sensor) AS s,"
            " generate_series(1, %s) AS m",
            [days * 24 * 60 - 1],
        )
        cursor.execute("ANALYZE monitoring_reading")
    print(f"seeded {sensors * (days * 24 * 60 - 1):,} readings in {time.perf_counter() - started:.1f} s", flush=True)
    return rule, sensor_ids


def measure(rule, sensor_ids: list[int], *, days: int, repeat: int) -> dict:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from warning import backtest
    from warning.models import ThresholdRule

    proposed = ThresholdRule.objects.get(pk=rule.pk)
    proposed.level3_threshold = 9.0  # the change an administrator tries
    floor, reading, replaying, whole = [], [], [], []
    result = None
    for _ in range(repeat):
        until = timezone.now()
        since = until - timedelta(days=days)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            query = cursor.mogrify(
                "COPY (SELECT sensor_id, date_part('epoch', observed_at), value FROM monitoring_reading"
                " WHERE sensor_id = ANY(%s) AND observed_at >= %s AND observed_at < %s) TO STDOUT WITH (FORMAT csv)",
                [sensor_ids, since, until],
            )
            cursor.copy_expert(query.decode(), io.BytesIO())
        floor.append(time.perf_counter() - started)

        started = time.perf_counter()
        frame = backtest.readings_frame(sensor_ids, since=since, until=until)
        reading.append(time.perf_counter() - started)
        started = time.perf_counter()
        backtest.replay(proposed, frame)
        backtest.replay(rule, frame)
        replaying.append(time.perf_counter() - started)

        result = backtest.rule_backtest(proposed=proposed, current=rule, days=days)
        whole.append(result.seconds)
    return {
        "readings": result.readings,
        "floor": statistics.median(floor),
        "read": statistics.median(reading),
        "replay": statistics.median(replaying),
        "whole": statistics.median(whole),
        "whole_max": max(whole),
        "proposed": result.proposed.count_by_peak_level(),
        "current": result.current.count_by_peak_level(),
        "load": os.getloadavg()[0],
        "repeat": repeat,
    }


def table(figures: dict, *, sensors: int, days: int) -> str:
    met = "met" if figures["whole"] < TARGET_SECONDS else "**not met**"
    whole, floor = figures["whole"], figures["floor"]
    return "\n".join(
        [
            "",
            "| figure | measured | target | |",
            "| --- | --- | --- | --- |",
            f"| backtest of a changed rule against the saved one, {sensors} sensors x {days} days at one reading"
            f" a minute ({figures['readings']:,} readings), median of {figures['repeat']} | {whole:.2f} s"
            f" (slowest {figures['whole_max']:.2f} s) | < {TARGET_SECONDS:g} s | {met} |",
            f"| … reading the readings (COPY, parsed by pandas) | {figures['read']:.2f} s | | |",
            f"| … replaying both rules | {figures['replay']:.2f} s | | |",
            f"| floor: the same COPY, not parsed | {floor:.2f} s (the backtest takes x{whole / floor:.1f}) | | |",
            f"| warnings raised, by peak level I / II / III | saved rule {fmt(figures['current'])};"
            f" changed rule {fmt(figures['proposed'])} | | |",
            f"| load average at the end (1 min) | {figures['load']:.2f} | | |",
        ]
    )


def fmt(counts: dict[int, int]) -> str:
    return " / ".join(f"{counts[level]:,}" for level in (1, 2, 3))


if __name__ == "__main__":
    sys.exit(main())
