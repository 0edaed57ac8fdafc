"""Rule kinds meet late and back-filled readings: every rule that classifies
values is cut into historical episodes with its own semantics (a band on
both sides, a duration's run kept across batches, a rate's change over the
stored readings at each reading's time); tests/warning/test_history.py has
the long series."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning import services
from warning.models import Direction, RuleKind, TransitionKind, Warning, WarningStatus

pytestmark = pytest.mark.django_db

BAND = {
    "direction": Direction.OUTSIDE,
    "level3_threshold": 1.0,
    "level2_threshold": 1.2,
    "level1_threshold": 1.5,
    "level3_lower_threshold": 0.4,
    "level2_lower_threshold": 0.3,
    "level1_lower_threshold": 0.2,
    "dead_band": 0.05,
}
RISE = {
    "kind": RuleKind.RATE,
    "direction": Direction.ABOVE,
    "level3_threshold": 0.5,
    "level2_threshold": 1.0,
    "level1_threshold": 2.0,
    "dead_band": 0.1,
    "rate_window_seconds": 3600,
}


class Series:
    def __init__(self, rule, start):
        self.sensor = SensorFactory(sensor_type=rule.sensor_type)
        self.start = start

    def at(self, seconds: float):
        return self.start + timedelta(seconds=seconds)

    def feed(self, *points: tuple[float, float]) -> int:
        stored = Reading.objects.bulk_create(
            [Reading(sensor=self.sensor, observed_at=self.at(s), value=v) for s, v in points]
        )
        readings_record_stored(readings=stored)
        return services.sensor_evaluate(sensor_id=self.sensor.pk)


def test_a_bands_back_filled_episode_on_its_low_side_is_recorded_as_history():
    rule = ThresholdRuleFactory(**BAND)
    series = Series(rule, timezone.now() - timedelta(days=3))
    series.feed((0, 0.7), (600, 0.35), (1200, 0.25), (1800, 0.7), (2400, 0.72))
    warning = Warning.objects.get()
    assert warning.is_historical
    assert warning.status == WarningStatus.CLOSED
    assert (warning.level, warning.peak_value) == (2, 0.25)
    assert (warning.opened_at, warning.recovered_at) == (series.at(600), series.at(1800))
    assert list(warning.transitions.values_list("kind", flat=True)) == [
        TransitionKind.OPENED,
        TransitionKind.ESCALATED,
        TransitionKind.RECOVERED,
    ]


def test_a_duration_rule_is_not_replayed_as_episodes_its_run_spans_batches():
    rule = ThresholdRuleFactory(hold_readings=3)
    series = Series(rule, timezone.now() - timedelta(days=3))
    # As episodes, the first batch alone would be a historical warning of
    # one reading; the rule asks for three in a row.
    series.feed((0, 12), (60, 3))
    assert not Warning.objects.exists()
    series.feed((120, 12), (180, 12))
    assert not Warning.objects.exists()
    series.feed((240, 12))
    warning = Warning.objects.get()
    assert warning.opened_at == series.at(240)
    assert not warning.is_historical


def test_a_late_rise_that_ended_among_late_readings_is_history_and_one_that_did_not_is_left():
    rule = ThresholdRuleFactory(**RISE)
    series = Series(rule, timezone.now() - timedelta(minutes=80))
    series.feed((0, 3.0), (3000, 3.1))
    # Late: a rise of 0.7 over its window at 900, back to 0.1 at 1200.
    series.feed((600, 3.0), (900, 3.7), (1200, 3.1))
    warning = Warning.objects.get()
    assert warning.is_historical
    assert (warning.opened_at, warning.recovered_at) == (series.at(900), series.at(1200))
    assert warning.first_value == pytest.approx(0.7)
    # Late and still rising at its last reading: whether it ended is a change
    # over readings not at hand, so nothing is recorded, live or past.
    series.feed((1500, 4.2))
    assert Warning.objects.count() == 1
    assert not Warning.objects.filter(status=WarningStatus.ACTIVE).exists()
