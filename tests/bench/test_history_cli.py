"""`python -m bench.history` and `make bench-history` start, and refuse a history too short to measure."""

import subprocess
import sys
from pathlib import Path

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
