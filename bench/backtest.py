"""``make bench-backtest``: a rule's backtest over a week of a hundred sensors (issue #10).

A fresh database of its own (``<bench database>_backtest``, dropped and
created again), 100 sensors reporting once a minute for 7 days (1,008,000
readings) with anomalies of every level, then the admin's backtest of a
changed rule against the saved threshold rule, run several times for each
kind the rule is changed to: a threshold, a duration, a rate of change. It
prints, per kind, the median time beside the 5 s target, split into reading
the readings and replaying the changed rule, and, as the machine's floor in
the same run, the time to COPY those rows out of PostgreSQL without parsing.
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


def kinds(rule):
    """The changes an administrator tries on the saved rule, one per kind:
    a lower Level III threshold, a duration of five minutes, and a rate of
    change (a rise over ten minutes) in its place."""
    from warning.models import Direction, RuleKind, ThresholdRule

    def changed(**fields):
        proposed = ThresholdRule.objects.get(pk=rule.pk)
        for name, value in fields.items():
            setattr(proposed, name, value)
        proposed.full_clean()
        return proposed

    return {
        "threshold": changed(level3_threshold=9.0),
        "duration": changed(hold_seconds=300),
        "rate": changed(
            kind=RuleKind.RATE,
            direction=Direction.ABOVE,
            level3_threshold=6.0,
            level2_threshold=15.0,
            level1_threshold=40.0,
            rate_window_seconds=600,
        ),
    }


def measure(rule, sensor_ids: list[int], *, days: int, repeat: int) -> dict:
    """Per kind: the admin's whole backtest of the changed rule against the
    saved one, reading the readings, and replaying the changed rule alone."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from warning import backtest
    from warning.models import RuleKind

    figures = {"repeat": repeat, "kinds": {}}
    floor = []
    for kind, proposed in kinds(rule).items():
        lookback = proposed.rate_window_seconds if proposed.kind == RuleKind.RATE else 0
        reading, replaying, whole = [], [], []
        result = None
        for _ in range(repeat):
            until = timezone.now()
            since = until - timedelta(days=days)
            if kind == "threshold":
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    query = cursor.mogrify(
                        "COPY (SELECT sensor_id, date_part('epoch', observed_at), value FROM monitoring_reading"
                        " WHERE sensor_id = ANY(%s) AND observed_at >= %s AND observed_at < %s)"
                        " TO STDOUT WITH (FORMAT csv)",
                        [sensor_ids, since, until],
                    )
                    cursor.copy_expert(query.decode(), io.BytesIO())
                floor.append(time.perf_counter() - started)

            started = time.perf_counter()
            readings = backtest.readings_in_window(
                sensor_ids, since=since, until=until, lookback_seconds=lookback, received=bool(lookback)
            )
            reading.append(time.perf_counter() - started)
            started = time.perf_counter()
            backtest.replay(proposed, readings)
            replaying.append(time.perf_counter() - started)

            result = backtest.rule_backtest(proposed=proposed, current=rule, days=days)
            whole.append(result.seconds)
        figures["kinds"][kind] = {
            "read": statistics.median(reading),
            "replay": statistics.median(replaying),
            "whole": statistics.median(whole),
            "whole_max": max(whole),
            "proposed": result.proposed.count_by_peak_level(),
            "current": result.current.count_by_peak_level(),
        }
        figures["readings"] = result.readings
    figures["floor"] = statistics.median(floor)
    figures["load"] = os.getloadavg()[0]
    return figures


def table(figures: dict, *, sensors: int, days: int) -> str:
    floor = figures["floor"]
    lines = [
        "",
        f"Each kind's backtest against the saved threshold rule, {sensors} sensors x {days} days at one reading"
        f" a minute ({figures['readings']:,} readings), median of {figures['repeat']}:",
        "",
        "| rule as changed | whole backtest | target | | reading the readings | replaying the changed rule alone |"
        " warnings by peak level I / II / III (changed; saved) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, measured in figures["kinds"].items():
        met = "met" if measured["whole"] < TARGET_SECONDS else "**not met**"
        lines.append(
            f"| {KIND_LABELS[kind]} | {measured['whole']:.2f} s (slowest {measured['whole_max']:.2f} s)"
            f" | < {TARGET_SECONDS:g} s | {met} | {measured['read']:.2f} s | {measured['replay']:.2f} s"
            f" | {fmt(measured['proposed'])}; {fmt(measured['current'])} |"
        )
    lines += [
        "",
        f"Floor: the same COPY, not parsed: {floor:.2f} s (the threshold backtest takes"
        f" x{figures['kinds']['threshold']['whole'] / floor:.1f}).",
        f"Load average at the end (1 min): {figures['load']:.2f}.",
    ]
    return "\n".join(lines)


KIND_LABELS = {
    "threshold": "threshold: Level III 10 -> 9",
    "duration": "duration: held 300 s",
    "rate": "rate of change: a rise of 6 / 15 / 40 within 600 s",
}


def fmt(counts: dict[int, int]) -> str:
    return " / ".join(f"{counts[level]:,}" for level in (1, 2, 3))


if __name__ == "__main__":
    sys.exit(main())
