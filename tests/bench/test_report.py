"""The benchmark's table: percentiles, formatting, the file it writes."""

import json
import math
from datetime import UTC, datetime

import pytest

from bench.report import Report, fmt_bytes, fmt_latencies, fmt_seconds, percentile
from bench.run import count, counts, mode_from, parse_args


def test_a_percentile_is_the_nearest_rank_never_a_value_nobody_observed():
    values = [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.4, 0.6, 0.8, 1.0]

    assert percentile(values, 50) == 0.5
    assert percentile(values, 90) == 0.9
    assert percentile(values, 95) == 1.0
    assert percentile(values, 99) == 1.0
    assert percentile(values, 100) == 1.0
    assert percentile([0.25], 99) == 0.25


def test_the_p99_of_thirty_samples_is_the_worst_sample():
    samples = [float(n) for n in range(1, 31)]

    assert percentile(samples, 99) == 30.0
    assert percentile(samples, 95) == 29.0


def test_no_samples_have_no_percentile_and_a_percentile_lies_above_zero():
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], 0)


def test_a_warning_never_seen_makes_the_high_percentiles_unbounded():
    samples = [0.05] * 97 + [math.inf] * 3

    assert percentile(samples, 50) == 0.05
    assert math.isinf(percentile(samples, 99))
    assert fmt_latencies(samples, beyond=60) == "50 ms / 50 ms / > 60 s"


def test_latencies_read_in_milliseconds_below_a_second_and_seconds_above():
    assert fmt_seconds(0.0594) == "59 ms"
    assert fmt_seconds(24.04) == "24.0 s"
    assert fmt_seconds(None) == "-"
    assert fmt_bytes(202 * 1024 * 1024) == "202.0 MiB"
    assert fmt_bytes(141) == "141 B"


def report() -> Report:
    result = Report(
        mode="quick",
        started_at=datetime(2026, 11, 30, 12, 58, tzinfo=UTC),
        machine={"cpus": 2, "cpu_model": "AMD EPYC", "ram_gib": 23.5, "system": "Linux", "load_at_start": 1.8},
        commit={"short": "f81f8ed", "branch": "bench", "dirty": False},
        settings={"summary": "10,000 sensors"},
    )
    result.add("COPY floor", "336,786 rows/s")
    result.add("in-process ingest", "4.5% of the floor", "≥ 30% of the floor", False)
    result.add("idle p50 | p95", "55 ms", "p50 ≤ 100 ms", True, latencies=[0.055])
    return result


def test_the_table_names_date_commit_machine_and_mode_and_judges_each_target():
    table = report().markdown()

    assert "quick mode" in table
    assert "2026-11-30 12:58 UTC" in table
    assert "f81f8ed (bench)" in table
    assert "2 CPUs (AMD EPYC), 23.5 GiB RAM" in table
    assert "| in-process ingest | 4.5% of the floor | ≥ 30% of the floor | **not met** |" in table
    assert "| COPY floor | 336,786 rows/s |  |  |" in table
    # A pipe in a cell would split the row.
    assert "| idle p50 \\| p95 | 55 ms | p50 ≤ 100 ms | met |" in table


def test_each_run_writes_its_table_and_its_raw_figures_named_by_date_commit_and_mode(tmp_path):
    path = report().write(tmp_path)

    assert path.name == "2026-11-30T1258Z-f81f8ed-quick.md"
    assert path.read_text() == report().markdown()
    raw = json.loads(path.with_suffix(".json").read_text())
    assert raw["commit"]["short"] == "f81f8ed"
    assert raw["figures"][2]["raw"] == {"latencies": [0.055]}
    assert raw["figures"][1]["met"] is False


def test_counts_are_written_as_people_write_them():
    assert count("10k") == 10_000
    assert count("1M") == 1_000_000
    assert count("1.5m") == 1_500_000
    assert count("20,000") == 20_000
    assert counts("1M,50M") == [1_000_000, 50_000_000]
    assert counts("none") == []


def test_the_quick_mode_is_smaller_and_each_option_overrides_its_mode():
    quick = mode_from(parse_args(["--quick"]))
    full = mode_from(parse_args([]))
    chosen = mode_from(parse_args(["--quick", "--rate", "5k", "--history", "1M,2M", "--skip", "mqtt,history"]))

    assert quick.sensors == [10_000]
    assert full.sensors == [10_000, 100_000]
    assert full.duration == 60
    assert full.history == [1_000_000, 50_000_000]
    assert quick.duration < full.duration
    assert chosen.rate == 5_000
    assert chosen.history == [1_000_000, 2_000_000]
    assert chosen.name == "quick"


def test_an_unknown_phase_is_refused_by_name(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--skip", "mqtt,lunch"])

    assert "lunch" in capsys.readouterr().err
