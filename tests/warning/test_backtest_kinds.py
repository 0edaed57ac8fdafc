"""The backtest of every rule kind agrees with the live evaluation.

The strongest check: one noisy, irregular series per rule, stored and
evaluated as ingestion and the worker do it (``readings_record_stored``
then ``sensor_evaluate``, in batches), and the same readings replayed by the
backtest: the same warnings, opened, escalated and recovered at the same
readings. Then the edges: settings that make no sense, an empty window,
one reading, readings exactly on a boundary.
"""

import random
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from freezegun import freeze_time

from citysafety.errors import InvalidInputError
from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning import backtest, services
from warning.models import Direction, RuleKind, ThresholdRule, TransitionKind, Warning, WarningTransition
from warning.no_data import sensors_warn_silent

pytestmark = pytest.mark.django_db

BAND = {
    "direction": Direction.OUTSIDE,
    "level3_threshold": 10.0,
    "level2_threshold": 20.0,
    "level1_threshold": 50.0,
    "level3_lower_threshold": -10.0,
    "level2_lower_threshold": -20.0,
    "level1_lower_threshold": -50.0,
    "dead_band": 1.0,
}
RISE = {
    "kind": RuleKind.RATE,
    "direction": Direction.ABOVE,
    "level3_threshold": 8.0,
    "level2_threshold": 20.0,
    "level1_threshold": 45.0,
    "dead_band": 1.0,
    "rate_window_seconds": 120,
}
FALL_PERCENT = {
    "kind": RuleKind.RATE,
    "direction": Direction.BELOW,
    "rate_in_percent": True,
    "level3_threshold": 30.0,
    "level2_threshold": 60.0,
    "level1_threshold": 85.0,
    "dead_band": 2.0,
    "rate_window_seconds": 90,
}
NO_DATA = {
    "kind": RuleKind.NO_DATA,
    "no_data_seconds": 60,
    "no_data_level": 2,
    "level3_threshold": None,
    "level2_threshold": None,
    "level1_threshold": None,
    "dead_band": 0,
}


def noisy_series(seed: int, *, count: int = 160, gaps: bool = False) -> list[tuple[float, float]]:
    """(seconds after the start, value): irregular spacing, noise, bursts of
    every level on both sides and, with ``gaps``, silences of every length."""
    rng = random.Random(seed)
    points, at, base, left = [], 0.0, 2, 0
    for _ in range(count):
        at += rng.uniform(0.5, 25)
        if gaps and rng.random() < 0.12:
            at += rng.choice([30, 59.5, 61, 90, 240])
        if not left:  # a level lasts a few readings, so durations are met and broken
            base, left = rng.choice([2, 2, 2, 2, 9, 9.5, 11, 15, 22, 35, 55, -9.5, -12, -25, -60, 0]), rng.randint(1, 6)
        left -= 1
        points.append((round(at, 3), round(base + rng.uniform(-1.5, 1.5), 2)))
    return points


class Live:
    """One sensor's readings, stored and evaluated in batches of one to four
    in observation order, starting 55 minutes ago (the evaluation of a
    rule's first readings looks back an hour)."""

    def __init__(self, rule: ThresholdRule):
        self.rule = rule
        self.sensor = SensorFactory(sensor_type=rule.sensor_type)
        self.start = timezone.now() - timedelta(minutes=55)

    def at(self, seconds: float):
        return self.start + timedelta(seconds=seconds)

    def feed(self, points: list[tuple[float, float]], *, seed: int = 0, sweep: bool = False) -> None:
        rng = random.Random(seed)
        i = 0
        while i < len(points):
            batch = points[i : i + (1 if sweep else rng.randint(1, 4))]
            i += len(batch)
            if sweep:
                # The no-data sweep, run just before the reading arrives.
                sensors_warn_silent(now=self.at(batch[0][0]) - timedelta(microseconds=1))
            stored = Reading.objects.bulk_create(
                [Reading(sensor=self.sensor, observed_at=self.at(s), value=v) for s, v in batch]
            )
            readings_record_stored(readings=stored)
            services.sensor_evaluate(sensor_id=self.sensor.pk)
        if sweep:
            sensors_warn_silent()

    def warnings(self) -> list[tuple]:
        """Each live warning: (opened, [(time, level) opened or escalated to], recovered)."""
        found = []
        for warning in Warning.objects.filter(sensor=self.sensor).order_by("opened_at"):
            steps = warning.transitions.filter(kind__in=[TransitionKind.OPENED, TransitionKind.ESCALATED])
            found.append(
                (warning.opened_at, [(t.observed_at, t.to_level) for t in steps.order_by("pk")], warning.recovered_at)
            )
        return found


def replayed(warnings: list[backtest.RaisedWarning]) -> list[tuple]:
    """The same for the backtest's warnings: at each time, the most severe level reached."""
    found = []
    for warning in warnings:
        steps: dict = {}
        for level, at in warning.reached_at.items():
            steps[at] = min(level, steps.get(at, level))
        found.append((warning.opened_at, sorted(steps.items()), warning.recovered_at))
    return found


@override_settings(WARNING_REACTIVATION_WINDOW_SECONDS=0.001)
@pytest.mark.parametrize(
    ("fields", "seed"),
    [
        pytest.param({}, 1, id="threshold"),
        pytest.param(BAND, 2, id="band"),
        pytest.param({"hold_readings": 3}, 3, id="duration-readings"),
        pytest.param({**BAND, "hold_seconds": 40}, 4, id="band-duration-seconds"),
        pytest.param(RISE, 5, id="rate-rise"),
        pytest.param(FALL_PERCENT, 6, id="rate-fall-percent"),
        pytest.param({**RISE, "hold_readings": 2}, 7, id="rate-duration"),
    ],
)
def test_the_backtest_raises_what_the_live_evaluation_raised(fields, seed):
    """A recovered warning that fires again is a new one here (a reactivation
    window of a millisecond), so each live warning has its own levels."""
    rule = ThresholdRuleFactory(**fields)
    rule.full_clean()
    live = Live(rule)
    points = noisy_series(seed)
    if rule.kind == RuleKind.RATE and rule.rate_in_percent:
        # A pressure: positive, falling in bursts.
        points = [(at, round(abs(value) + 1, 2)) for at, value in points]
    live.feed(points, seed=seed)

    result = backtest.rule_backtest(proposed=rule, current=None, days=1)

    expected = live.warnings()
    assert len(expected) >= 4, "the series should raise several warnings"
    assert any(len(steps) > 1 for _opened, steps, _recovered in expected), "and escalate some"
    assert replayed(result.proposed.warnings) == expected
    assert result.readings == len(points)


def test_a_late_reading_counts_in_the_rate_windows_of_the_readings_received_after_it_as_in_the_evaluation():
    # River level: a rise of 0.5 m within an hour is Level III.
    rule = ThresholdRuleFactory(
        **{
            **RISE,
            "level3_threshold": 0.5,
            "level2_threshold": 1,
            "level1_threshold": 2,
            "dead_band": 0.1,
            "rate_window_seconds": 3600,
        }
    )
    live = Live(rule)
    live.feed([(0, 3.0), (1800, 3.3)])  # a rise of 0.3 at 1800
    live.feed([(900, 2.5)])  # late, from a gateway's buffer: not in the window of 1800 when it was evaluated
    live.feed([(2400, 3.2)])  # the late 2.5 is in this one's window: a rise of 0.7

    (warning,) = backtest.rule_backtest(proposed=rule, current=None, days=1).proposed.warnings

    assert replayed([warning]) == live.warnings()
    assert (warning.opened_at, warning.peak_value) == (live.at(2400), pytest.approx(0.7))


def test_the_backtest_of_a_no_data_rule_finds_the_silences_the_sweep_found():
    rule = ThresholdRuleFactory(**NO_DATA)
    live = Live(rule)
    points = noisy_series(8, count=90, gaps=True)
    live.feed(points, sweep=True)

    result = backtest.rule_backtest(proposed=rule, current=None, days=1)

    transitions = WarningTransition.objects.filter(warning__sensor=live.sensor).order_by("observed_at", "pk")
    starts = [t.observed_at for t in transitions if t.kind in (TransitionKind.OPENED, TransitionKind.REACTIVATED)]
    ends = [t.observed_at for t in transitions if t.kind == TransitionKind.RECOVERED]
    warnings = result.proposed.warnings
    assert len(starts) >= 4
    assert [w.opened_at for w in warnings] == starts
    assert [w.recovered_at for w in warnings] == [*ends, None]  # the last silence lasts to now
    assert {w.peak_level for w in warnings} == {2}
    assert {t.to_level for t in transitions} == {2}
    # Each opened the moment its silence passed the minute.
    assert all(w.opened_at == w.silent_since + timedelta(seconds=60) for w in warnings)


# --- Settings that make no sense -------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({**RISE, "rate_window_seconds": 0}, "rate_window_seconds"),
        ({**RISE, "direction": Direction.OUTSIDE}, "direction"),
        ({**RISE, "level3_threshold": -1.0}, "level3_threshold"),
        ({**NO_DATA, "no_data_level": None}, "no_data_level"),
        ({**NO_DATA, "no_data_seconds": 0}, "no_data_seconds"),
        ({"hold_seconds": 60, "hold_readings": 3}, "hold_readings"),
        ({"rate_window_seconds": 60}, "rate_window_seconds"),
    ],
)
def test_a_rule_whose_settings_make_no_sense_is_refused_on_the_field_to_change(fields, field):
    rule = ThresholdRuleFactory.build(sensor_type=SensorFactory().sensor_type, **fields)

    with pytest.raises(InvalidInputError) as refused:
        backtest.rule_backtest(proposed=rule, current=None, days=1)

    assert refused.value.field == field


def test_a_saved_rule_whose_settings_contradict_each_other_is_left_out_of_the_comparison():
    saved = ThresholdRuleFactory()
    ThresholdRule.objects.filter(pk=saved.pk).update(hold_seconds=60, hold_readings=3)  # from before validation
    saved.refresh_from_db()
    proposed = ThresholdRule.objects.get(pk=saved.pk)
    proposed.hold_readings = None

    result = backtest.rule_backtest(proposed=proposed, current=saved, days=1)

    assert result.current is None


def test_a_duration_of_one_reading_or_of_no_time_raises_what_plain_thresholds_raise():
    rule = ThresholdRuleFactory()
    Live(rule).feed(noisy_series(9, count=60))
    plain = backtest.rule_backtest(proposed=rule, current=None, days=1).proposed.warnings

    for fields in ({"hold_readings": 1}, {"hold_seconds": 0}):
        held = ThresholdRule.objects.get(pk=rule.pk)
        for name, value in fields.items():
            setattr(held, name, value)
        assert backtest.rule_backtest(proposed=held, current=None, days=1).proposed.warnings == plain
    assert plain


# --- Empty windows, one reading, readings on a boundary ----------------------------------

NOW = timezone.now().replace(microsecond=0)
KINDS = {
    "threshold": {},
    "duration": {"hold_readings": 2},
    "rate": RISE,
    "no data": NO_DATA,
}


def stored(sensor, *points: tuple[timedelta, float]) -> None:
    """(how long before NOW, value)."""
    Reading.objects.bulk_create(Reading(sensor=sensor, observed_at=NOW - ago, value=v) for ago, v in points)


def raised(rule, days: int = 1) -> list[backtest.RaisedWarning]:
    with freeze_time(NOW):
        return backtest.rule_backtest(proposed=rule, current=None, days=days).proposed.warnings


@pytest.mark.parametrize("fields", KINDS.values(), ids=KINDS.keys())
def test_an_empty_window_raises_nothing(fields):
    rule = ThresholdRuleFactory(**fields)
    SensorFactory(sensor_type=rule.sensor_type)  # never reported

    with freeze_time(NOW):
        result = backtest.rule_backtest(proposed=rule, current=None, days=1)

    assert (result.readings, result.proposed.warnings) == (0, [])


def test_a_sensor_silent_since_before_the_window_has_a_no_data_warning_from_its_start():
    rule = ThresholdRuleFactory(**NO_DATA)
    silent = SensorFactory(sensor_type=rule.sensor_type)
    stored(silent, (timedelta(days=3), 4.5))
    retired = SensorFactory(sensor_type=rule.sensor_type, is_active=False)  # the sweep passes it by
    stored(retired, (timedelta(days=3), 4.5))

    (warning,) = raised(rule)

    assert (warning.sensor_id, warning.opened_at, warning.recovered_at) == (silent.pk, NOW - timedelta(days=1), None)
    assert (warning.silent_since, warning.peak_value) == (NOW - timedelta(days=3), 4.5)


@pytest.mark.parametrize(
    ("fields", "warns"),
    [
        ({}, True),  # at Level III at once
        ({"hold_readings": 2}, False),  # a run of one
        ({"hold_seconds": 1}, False),  # a run of no time
        (RISE, False),  # a change of 0 from itself
        (NO_DATA, True),  # silent since, for longer than a minute
    ],
)
def test_one_reading(fields, warns):
    rule = ThresholdRuleFactory(**fields)
    stored(SensorFactory(sensor_type=rule.sensor_type), (timedelta(minutes=5), 60))

    warnings = raised(rule)

    assert len(warnings) == warns
    if warns:
        assert warnings[0].recovered_at is None


def test_a_reading_exactly_on_the_window_start_is_replayed_and_one_a_microsecond_earlier_is_not():
    rule = ThresholdRuleFactory()
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    stored(sensor, (timedelta(days=1, microseconds=1), 99), (timedelta(days=1), 12), (timedelta(hours=1), 1))

    with freeze_time(NOW):
        result = backtest.rule_backtest(proposed=rule, current=None, days=1)

    assert result.readings == 2
    ((opened, level),) = [(w.opened_at, w.peak_level) for w in result.proposed.warnings]
    assert (opened, level) == (NOW - timedelta(days=1), 3)


def test_a_value_on_a_threshold_reaches_it_and_one_on_the_recovery_limit_holds():
    rule = ThresholdRuleFactory()  # III 10, dead band 1: recovers below 9
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    stored(sensor, *((timedelta(minutes=10 - i), v) for i, v in enumerate([10, 20, 9, 8.999, 50])))

    first, second = raised(rule)

    assert (first.opened_at, first.peak_level, first.recovered_at) == (
        NOW - timedelta(minutes=10),
        2,
        NOW - timedelta(minutes=7),
    )
    assert (second.peak_level, second.recovered_at) == (1, None)


@pytest.mark.parametrize(
    ("apart", "warns"), [(timedelta(seconds=59, microseconds=999999), False), (timedelta(seconds=60), True)]
)
def test_a_duration_in_seconds_lasts_from_exactly_its_length(apart, warns):
    rule = ThresholdRuleFactory(hold_seconds=60)
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    start = timedelta(minutes=10)
    stored(sensor, (start, 12), (start - apart, 13), (start - apart - timedelta(seconds=1), 2))

    warnings = raised(rule)

    assert [w.opened_at for w in warnings] == ([NOW - start + apart] if warns else [])


def test_a_duration_in_readings_opens_at_exactly_that_many_and_escalates_once_the_worse_level_held():
    rule = ThresholdRuleFactory(hold_readings=3)
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    values = [12, 13, 5, 11, 25, 26, 60, 27, 9.5, 11, 2]
    stored(sensor, *((timedelta(minutes=20 - i), v) for i, v in enumerate(values)))

    (warning,) = raised(rule)

    at = {i: NOW - timedelta(minutes=20 - i) for i in range(len(values))}
    # 11, 25, 26 are three at Level III or worse; 25, 26, 60 three at Level II or worse;
    # the dead band (9.5) holds the warning and ends the runs; 2 recovers it.
    assert warning.reached_at == {3: at[5], 2: at[6]}
    assert (warning.opened_at, warning.recovered_at, warning.peak_value) == (at[5], at[10], 60)


@pytest.mark.parametrize(
    ("before", "warns"), [(timedelta(seconds=120), True), (timedelta(seconds=120, microseconds=1), False)]
)
def test_a_rate_window_includes_a_reading_exactly_its_length_before_even_before_the_backtest_window(before, warns):
    rule = ThresholdRuleFactory(**RISE)  # 8 within 120 s
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    first = timedelta(days=1)  # the backtest window's first moment
    stored(sensor, (first + before, 0.0), (first, 8.0))

    warnings = raised(rule)

    assert [(w.opened_at, w.peak_value) for w in warnings] == ([(NOW - first, 8.0)] if warns else [])


def test_a_rate_in_percent_from_a_zero_is_no_change_as_in_the_evaluation():
    rule = ThresholdRuleFactory(**{**RISE, "rate_in_percent": True})  # 8 %, 20 %, 45 %
    from_zero, from_one = (SensorFactory(sensor_type=rule.sensor_type) for _ in range(2))
    stored(from_zero, (timedelta(seconds=100), 0.0), (timedelta(seconds=50), 5.0))
    stored(from_one, (timedelta(seconds=100), 1.0), (timedelta(seconds=50), 5.0))

    (warning,) = raised(rule)

    assert (warning.sensor_id, warning.peak_level, warning.peak_value) == (from_one.pk, 1, 400.0)


@pytest.mark.parametrize(
    ("gap", "warns"), [(timedelta(seconds=60), False), (timedelta(seconds=60, microseconds=1), True)]
)
def test_a_silence_warns_only_when_longer_than_the_rule_allows(gap, warns):
    rule = ThresholdRuleFactory(**NO_DATA)
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    last = timedelta(seconds=30)
    stored(sensor, (last + gap, 1.0), (last, 1.1))

    warnings = raised(rule)

    expected = [(NOW - last - gap + timedelta(seconds=60), NOW - last)] if warns else []
    assert [(w.opened_at, w.recovered_at) for w in warnings] == expected
