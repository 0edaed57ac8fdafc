"""Rule kinds: bands, durations, rates of change, against the real database.

Readings are stored and evaluated as ingestion and the worker do it
(``readings_record_stored`` then ``sensors_evaluate``); the series are noisy,
late, duplicated and irregularly spaced on purpose.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, SensorTypeFactory, ThresholdRuleFactory
from warning import rule_kinds, services
from warning.evaluation import HOLD, NORMAL, classify, worse
from warning.models import Direction, RuleKind, RuleState, ThresholdRule, TransitionKind, Warning, WarningStatus

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


class Series:
    """Stores readings of one sensor at given offsets (seconds) from a start
    in the recent past, then evaluates them as the worker would."""

    def __init__(self, sensor):
        self.sensor = sensor
        self.start = timezone.now() - timedelta(minutes=50)

    def at(self, seconds: float):
        return self.start + timedelta(seconds=seconds)

    def feed(self, *points: tuple[float, float]) -> int:
        stored = Reading.objects.bulk_create(
            [Reading(sensor=self.sensor, observed_at=self.at(s), value=v) for s, v in points], ignore_conflicts=False
        )
        readings_record_stored(readings=stored)
        return services.sensor_evaluate(sensor_id=self.sensor.pk)


def series_for(**rule_fields):
    rule = ThresholdRuleFactory(**rule_fields)
    return rule, Series(SensorFactory(sensor_type=rule.sensor_type))


def the_warning(sensor) -> Warning:
    return Warning.objects.get(sensor=sensor)


def kinds(warning: Warning) -> list[str]:
    return list(warning.transitions.values_list("kind", flat=True))


# --- Bands -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "in_warning", "expected"),
    [
        (0.7, False, NORMAL),
        (1.0, False, 3),
        (1.3, False, 2),
        (1.5, False, 1),
        (0.4, False, 3),
        (0.25, False, 2),
        (0.1, False, 1),
        (0.97, True, HOLD),
        (0.43, True, HOLD),
        (0.94, True, NORMAL),
        (0.46, True, NORMAL),
    ],
)
def test_a_band_classifies_both_sides_with_a_dead_band_on_each(value, in_warning, expected):
    assert classify(ThresholdRule(**BAND), value, in_warning=in_warning) == expected


def test_the_worse_of_two_values_on_a_band_is_the_one_further_outside():
    rule = ThresholdRule(**BAND)
    assert worse(rule, 1.3, 0.05) == 0.05
    assert worse(rule, 1.6, 0.3) == 1.6


def test_a_band_opens_on_its_low_side_escalates_on_its_high_side_and_recovers_past_both_dead_bands():
    _rule, series = series_for(**BAND)
    # Normal and noisy: only the watermark moves.
    series.feed((0, 0.7), (60, 0.72), (120, 0.69))
    assert not Warning.objects.exists()
    assert RuleState.objects.get().evaluated_through == series.at(120)
    series.feed((180, 0.35))  # low side, Level III
    warning = the_warning(series.sensor)
    assert (warning.level, warning.opened_at) == (3, series.at(180))
    series.feed((240, 0.43), (300, 1.25))  # the dead band holds; then high side Level II
    warning.refresh_from_db()
    assert (warning.level, warning.status, warning.peak_value) == (2, WarningStatus.ACTIVE, 1.25)
    series.feed((360, 0.97), (420, 0.8))
    warning.refresh_from_db()
    assert (warning.status, warning.recovered_at) == (WarningStatus.RECOVERED, series.at(420))
    assert kinds(warning) == [TransitionKind.OPENED, TransitionKind.ESCALATED, TransitionKind.RECOVERED]


# --- Durations -----------------------------------------------------------------------


def test_a_rule_held_for_readings_opens_at_the_last_reading_of_an_unbroken_run():
    _rule, series = series_for(hold_readings=3)
    series.feed((0, 12), (60, 13), (120, 5))  # two, then broken by a normal reading
    assert not Warning.objects.exists()
    series.feed((180, 11), (240, 12))
    assert not Warning.objects.exists()
    assert RuleState.objects.get().hold_progress["3"]["count"] == 2
    series.feed((300, 15))
    warning = the_warning(series.sensor)
    assert (warning.level, warning.opened_at, warning.first_value) == (3, series.at(300), 15)


def test_a_held_rule_escalates_only_once_the_worse_level_held_too():
    _rule, series = series_for(hold_readings=2)
    series.feed((0, 12), (60, 12))
    series.feed((120, 25))  # one reading at Level II: not yet
    warning = the_warning(series.sensor)
    assert warning.level == 3
    series.feed((180, 60))  # Level I once, but Level II's run (25, 60) has lasted
    warning.refresh_from_db()
    assert warning.level == 2
    series.feed((240, 55))
    warning.refresh_from_db()
    assert warning.level == 1
    assert [t.to_level for t in warning.transitions.all()] == [3, 2, 1]


def test_a_rule_held_for_seconds_counts_time_not_readings_with_irregular_spacing():
    _rule, series = series_for(hold_seconds=300)
    series.feed((0, 12), (20, 12), (45, 13), (50, 11))  # four readings in under a minute
    assert not Warning.objects.exists()
    series.feed((290, 14))
    assert not Warning.objects.exists()
    series.feed((301, 12))
    assert the_warning(series.sensor).opened_at == series.at(301)


def test_late_and_replayed_readings_neither_extend_nor_break_a_run():
    _rule, series = series_for(hold_readings=3)
    series.feed((100, 12), (160, 12))
    series.feed((30, 2))  # late and normal: the run goes on
    series.feed((60, 40))  # late and above: it does not count
    assert not Warning.objects.exists()
    assert RuleState.objects.get().hold_progress["3"]["count"] == 2
    # The same batch again stores nothing new and changes nothing.
    Reading.objects.bulk_create(
        [Reading(sensor=series.sensor, observed_at=series.at(160), value=12)], ignore_conflicts=True
    )
    assert services.sensor_evaluate(sensor_id=series.sensor.pk) == 0
    series.feed((220, 12))
    assert the_warning(series.sensor).opened_at == series.at(220)
    assert services.sensor_evaluate(sensor_id=series.sensor.pk) == 0
    assert Warning.objects.count() == 1


def test_a_batch_of_normal_readings_ends_a_run_though_no_value_reaches_a_threshold():
    _rule, series = series_for(hold_readings=2)
    series.feed((0, 12))
    series.feed((60, 3), (120, 4))  # every value normal: summed up in SQL, the run must still end
    assert RuleState.objects.get().hold_progress == {}
    series.feed((180, 12))
    assert not Warning.objects.exists()


def test_a_rule_change_applies_to_the_next_reading():
    rule, series = series_for()
    series.feed((0, 12))
    assert the_warning(series.sensor).level == 3
    ThresholdRule.objects.filter(pk=rule.pk).update(level2_threshold=11.5)
    series.feed((60, 12))
    assert the_warning(series.sensor).level == 2


# --- Rates of change -----------------------------------------------------------------


def test_a_rise_over_the_window_warns_from_irregular_readings():
    # River level: a rise of 0.5 m within an hour is Level III.
    _rule, series = series_for(
        kind=RuleKind.RATE,
        direction=Direction.ABOVE,
        level3_threshold=0.5,
        level2_threshold=1.0,
        level1_threshold=2.0,
        dead_band=0.1,
        rate_window_seconds=3600,
    )
    series.feed((0, 3.0), (700, 3.1), (1500, 3.05), (1530, 3.2))
    assert not Warning.objects.exists()
    series.feed((2900, 3.55))  # 0.55 above the lowest reading of the last hour
    warning = the_warning(series.sensor)
    assert warning.level == 3
    assert warning.first_value == pytest.approx(0.55)
    # An hour on, the early low has left the window: the change is small again.
    series.feed((4500, 3.6))  # lowest in [900, 4500] is 3.05: rise 0.55, still in warning
    series.feed((6600, 3.62))  # lowest in [3000, 6600] is 3.6: recovered
    warning.refresh_from_db()
    assert warning.status == WarningStatus.RECOVERED


def test_a_late_reading_counts_in_the_window_of_the_readings_after_it():
    _rule, series = series_for(
        kind=RuleKind.RATE,
        direction=Direction.ABOVE,
        level3_threshold=0.5,
        level2_threshold=1.0,
        level1_threshold=2.0,
        dead_band=0.1,
        rate_window_seconds=3600,
    )
    series.feed((0, 3.0), (1800, 3.3))
    series.feed((900, 2.5))  # late: the gateway's buffer; rise 0 over its own window
    assert not Warning.objects.exists()
    series.feed((2400, 3.2))  # lowest in the window is the late 2.5: a rise of 0.7
    assert the_warning(series.sensor).first_value == pytest.approx(0.7)


def test_a_pressure_fall_of_twenty_percent_within_ten_minutes_is_the_burst_signature():
    _rule, series = series_for(
        kind=RuleKind.RATE,
        direction=Direction.BELOW,
        rate_in_percent=True,
        level3_threshold=10,
        level2_threshold=20,
        level1_threshold=40,
        dead_band=2,
        rate_window_seconds=600,
    )
    series.feed((0, 0.40), (200, 0.41), (290, 0.40), (420, 0.37))  # 9.8 % below the window's high
    assert not Warning.objects.exists()
    series.feed((500, 0.32))
    warning = the_warning(series.sensor)
    assert warning.level == 2
    assert warning.first_value == pytest.approx(100 * (0.41 - 0.32) / 0.41)


def test_a_rate_rule_combined_with_a_duration_needs_the_change_to_last():
    _rule, series = series_for(
        kind=RuleKind.RATE,
        direction=Direction.ABOVE,
        level3_threshold=1,
        level2_threshold=2,
        level1_threshold=3,
        dead_band=0,
        rate_window_seconds=600,
        hold_readings=2,
    )
    series.feed((0, 0), (60, 1.5))
    assert not Warning.objects.exists()
    series.feed((120, 1.6))
    assert the_warning(series.sensor).opened_at == series.at(120)


# --- Admin settings that contradict each other -----------------------------------------


def errors_of(**fields) -> dict[str, list[str]]:
    rule = ThresholdRuleFactory.build(sensor_type=SensorTypeFactory(), **fields)
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    return caught.value.message_dict


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({**BAND, "level3_lower_threshold": 1.1}, "level3_lower_threshold", "bounds cross"),
        ({**BAND, "level2_lower_threshold": 0.5}, "level2_lower_threshold", "less than Level III's (0.4)"),
        (
            {**BAND, "level3_lower_threshold": 0.95, "dead_band": 0.03},
            "dead_band",
            "half the band's width (0.025)",
        ),
        ({**BAND, "dead_band": 0.15}, "dead_band", "Level III and Level II lower thresholds (0.1)"),
        ({**BAND, "direction": Direction.ABOVE}, "level3_lower_threshold", "only a band"),
        ({"direction": Direction.OUTSIDE}, "level3_lower_threshold", "Enter this lower threshold"),
        (
            {"kind": RuleKind.NO_DATA, "no_data_seconds": 600, "no_data_level": 3, "hold_seconds": 60},
            "hold_seconds",
            "a no-data rule has none",
        ),
        ({"kind": RuleKind.NO_DATA, "no_data_level": 3}, "level3_threshold", "compares no value"),
        (
            {
                "kind": RuleKind.NO_DATA,
                "level3_threshold": None,
                "level2_threshold": None,
                "level1_threshold": None,
                "dead_band": 0,
            },
            "no_data_seconds",
            "how many seconds",
        ),
        ({"kind": RuleKind.RATE}, "rate_window_seconds", "Enter the window"),
        (
            {"kind": RuleKind.RATE, "rate_window_seconds": 60, "direction": Direction.OUTSIDE},
            "direction",
            "rises or falls",
        ),
        ({"rate_window_seconds": 60}, "rate_window_seconds", "only a rate-of-change rule"),
        ({"hold_seconds": 60, "hold_readings": 3}, "hold_readings", "not both"),
        ({"no_data_seconds": 60}, "no_data_seconds", "only a no-data rule"),
        ({"level2_threshold": None}, "level2_threshold", "every level needs one"),
    ],
)
def test_contradictory_settings_are_refused_saying_what_to_change(fields, field, says):
    errors = errors_of(**fields)
    assert field in errors, errors
    assert says in errors[field][0]


def test_a_consistent_rule_of_each_kind_validates():
    for fields in (
        BAND,
        {"hold_seconds": 120},
        {"kind": RuleKind.RATE, "rate_window_seconds": 3600, "direction": Direction.BELOW, "rate_in_percent": True},
        {
            "kind": RuleKind.NO_DATA,
            "no_data_seconds": 900,
            "no_data_level": 2,
            "level3_threshold": None,
            "level2_threshold": None,
            "level1_threshold": None,
            "dead_band": 0,
        },
    ):
        ThresholdRuleFactory.build(sensor_type=SensorTypeFactory(), **fields).full_clean()


def test_hold_advance_keeps_a_run_per_level():
    rule = ThresholdRule(hold_readings=2)
    progress: dict = {}
    at = timezone.now()
    assert rule_kinds.hold_advance(rule, progress, 2, at) == 0
    assert set(progress) == {"2", "3"}
    assert rule_kinds.hold_advance(rule, progress, 3, at + timedelta(seconds=1)) == 3
    assert set(progress) == {"3"}
    assert rule_kinds.hold_advance(rule, progress, HOLD, at + timedelta(seconds=2)) == 0
    assert progress == {}
