"""`python -m bench.history` and `make bench-history` start, and refuse a history too short to measure."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_history_benchmark_explains_its_options():
    answer = subprocess.run(
        [sys.executable, "-m", "bench.history", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert answer.returncode == 0, answer.stderr
    for option in ("--warnings", "--orders-per-warning", "--samples", "--reuse"):
        assert option in answer.stdout


def test_the_history_benchmark_refuses_a_history_without_a_page_10000():
    answer = subprocess.run(
        [sys.executable, "-m", "bench.history", "--warnings", "1000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert answer.returncode == 2
    assert "page 10,000 must exist" in answer.stderr


def test_make_bench_history_reaches_the_benchmark():
    answer = subprocess.run(
        ["make", "--no-print-directory", "bench-history", "BENCH_ARGS=--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert answer.returncode == 0, answer.stderr
    assert "python -m bench.history" in answer.stdout


@pytest.mark.django_db(transaction=True)
def test_the_seeded_history_fits_the_schema_as_it_is_now():
    """The seed writes the tables in raw SQL: a new NOT NULL column would break it unseen."""
    from django.contrib.auth.models import Group

    from bench.history import OPEN_WARNINGS, seed
    from dispatch.models import WorkOrder, WorkOrderEvent
    from organisation.roles import DEPARTMENT_STAFF, DUTY_OFFICER
    from warning.models import Warning, WarningStatus

    # The role groups come from a migration; an earlier test's flush may have removed them.
    for role in (DUTY_OFFICER, DEPARTMENT_STAFF):
        Group.objects.get_or_create(name=role)
    warnings = OPEN_WARNINGS + 100  # the oldest 100 closed
    seed(warnings=warnings, orders_per_warning=2)

    assert Warning.objects.count() == warnings
    assert WorkOrder.objects.count() == 2 * warnings
    assert Warning.objects.filter(status=WarningStatus.CLOSED).count() == 100
    closed = Warning.objects.filter(status=WarningStatus.CLOSED).first()
    assert closed is not None
    assert closed.closed_while_active is False
    assert WorkOrderEvent.objects.filter(data={}).count() == WorkOrderEvent.objects.count() > 0
