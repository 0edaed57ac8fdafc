"""What the monitor makes of its samples: the lag over a phase, what the database sessions did."""

from bench.monitor import Sample, lag_summary, session_shares


def sample(at: float, lag: float, behind: int, sessions: dict[str, int]) -> Sample:
    return Sample(at, lag, behind, True, queued_tasks=3, query_seconds=0.01, sessions=sessions)


def test_a_phase_reports_its_worst_and_median_lag_and_how_far_behind_it_fell():
    samples = [sample(0, 0.1, 0, {}), sample(1, 4.0, 300, {}), sample(2, 12.5, 800, {}), sample(3, 0.0, 0, {})]

    summary = lag_summary(samples)

    assert summary["samples"] == 4
    assert summary["max"] == 12.5
    assert summary["median"] == 4.0
    assert summary["max_sensors_behind"] == 800
    assert summary["inexact"] == 0


def test_session_states_are_shares_of_all_busy_sessions_seen_most_common_first():
    samples = [
        sample(0, 0, 0, {"running": 1, "waiting for Lock:transactionid": 3}),
        sample(1, 0, 0, {"waiting for Lock:transactionid": 3, "idle in transaction": 1}),
        sample(2, 0, 0, {}),
    ]

    shares = session_shares(samples)

    assert list(shares) == ["waiting for Lock:transactionid", "running", "idle in transaction"]
    assert shares["waiting for Lock:transactionid"] == 0.75
    assert session_shares([sample(0, 0, 0, {})]) == {}
