"""`python -m bench` and `make bench` start, and say what they would run."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_explains_its_options():
    answer = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )

    assert answer.returncode == 0, answer.stderr
    assert "--quick" in answer.stdout
    assert "--history" in answer.stdout
    assert "bench/results/" in answer.stdout


def test_make_bench_passes_quick_through_to_the_benchmark():
    quick = subprocess.run(
        ["make", "--no-print-directory", "bench", "QUICK=1", "BENCH_ARGS=--dry-run --skip mqtt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    full = subprocess.run(
        ["make", "--no-print-directory", "bench", "BENCH_ARGS=--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert quick.returncode == 0, quick.stderr
    assert quick.stdout.startswith("quick mode: sensors 10,000;")
    assert "skipping mqtt" in quick.stdout
    assert full.returncode == 0, full.stderr
    assert full.stdout.startswith("full mode: sensors 10,000, 100,000;")
