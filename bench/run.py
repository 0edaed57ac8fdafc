"""Benchmarks: ingestion and evaluation throughput, printed as figures.

Runs against its own database (``BENCH_DATABASE_URL``, default
``postgis://postgres@127.0.0.1:5432/citysafety_bench``), created and
migrated on first use, so it never touches the demo city or the tests.
Usage: ``make bench`` (or ``.venv/bin/python bench/run.py [--sensors N]``).
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", "postgis://postgres@127.0.0.1:5432/citysafety_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citysafety.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def ensure_database() -> None:
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    admin = psycopg2.connect(
        dbname="postgres", user=db["USER"] or "postgres", host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{db["NAME"]}"')
    admin.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sensors", type=int, default=10000)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()

    import django

    django.setup()
    ensure_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from django.contrib.gis.geos import Point
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from monitoring.models import Gateway, Reading, RiskDomain, Sensor, SensorType
    from monitoring.services import gateway_create, gateway_issue_token
    from warning.models import RuleState, ThresholdRule, Warning
    from warning.services import sensors_evaluate

    domain, _ = RiskDomain.objects.get_or_create(code="bench", defaults={"name": "Bench", "category": "lifeline"})
    sensor_type, _ = SensorType.objects.get_or_create(
        code="bench-methane", defaults={"name": "Bench methane", "domain": domain, "metric": "methane", "unit": "%LEL"}
    )
    ThresholdRule.objects.get_or_create(
        name="Bench rule",
        sensor_type=sensor_type,
        defaults={"level3_threshold": 10, "level2_threshold": 20, "level1_threshold": 50, "dead_band": 1},
    )
    gateway = Gateway.objects.filter(code="gw-bench").first()
    if gateway is None:
        gateway, token = gateway_create(code="gw-bench", name="Bench")
    else:
        token = gateway_issue_token(gateway=gateway)
    existing = Sensor.objects.filter(sensor_type=sensor_type).count()
    if existing < args.sensors:
        Sensor.objects.bulk_create(
            Sensor(
                code=f"BENCH-{n:06d}",
                name=f"Bench {n}",
                sensor_type=sensor_type,
                gateway=gateway,
                location=Point(117.2 + (n % 100) / 1000, 31.8 + (n // 100) / 10000, srid=4326),
            )
            for n in range(existing, args.sensors)
        )
    codes = list(Sensor.objects.filter(sensor_type=sensor_type).order_by("pk").values_list("code", flat=True))
    Reading.objects.filter(sensor__sensor_type=sensor_type).delete()
    Warning.objects.filter(sensor__sensor_type=sensor_type).delete()
    RuleState.objects.filter(rule__sensor_type=sensor_type).delete()
    with connection.cursor() as cursor:
        # Earlier runs' deleted rows would count in the storage figure.
        cursor.execute("VACUUM FULL monitoring_reading")

    client = Client(HTTP_HOST="127.0.0.1")
    start = timezone.now() - timedelta(minutes=30)
    timings = []
    for b in range(args.batches):
        when = (start + timedelta(seconds=b)).isoformat()
        offset = (b * args.batch_size) % len(codes)
        chosen = (codes * 2)[offset : offset + args.batch_size]
        body = json.dumps(
            [{"sensor": code, "observed_at": when, "value": 1.0 + (i % 7)} for i, code in enumerate(chosen)]
        )
        t0 = time.perf_counter()
        response = client.post(
            "/api/v1/readings/", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        timings.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.content[:300]
    total = args.batches * args.batch_size
    print(f"ingest: {total} readings in {args.batches} batches of {args.batch_size} (in-process, full API view)")
    print(
        f"  median batch {statistics.median(timings) * 1000:.1f} ms, p95 {sorted(timings)[int(len(timings) * 0.95) - 1] * 1000:.1f} ms"
    )
    print(f"  throughput {total / sum(timings):,.0f} readings/s")

    # Evaluation: every sensor with a new reading, one transaction each.
    sensor_ids = list(Sensor.objects.filter(sensor_type=sensor_type).values_list("pk", flat=True)[:2000])
    t0 = time.perf_counter()
    sensors_evaluate(sensor_ids=sensor_ids)
    elapsed = time.perf_counter() - t0
    print(f"evaluate: {len(sensor_ids)} sensors in {elapsed:.2f} s = {len(sensor_ids) / elapsed:,.0f} sensors/s")

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('monitoring_reading')")
        size = cursor.fetchone()[0]
    count = Reading.objects.count()
    print(
        f"storage: {count} readings use {size / 1024 / 1024:.1f} MiB with indexes ({size / max(count, 1):.0f} B each)"
    )
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
