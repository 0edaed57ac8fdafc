"""Threshold rules turning readings into warnings: open, escalate, recover."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from citysafety.errors import InvalidInputError
from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning import services
from warning.evaluation import HOLD, NORMAL, classify, recovery_limit, value_at_level
from warning.models import Direction, RuleState, ThresholdRule, Warning, WarningStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule():
    return ThresholdRuleFactory()  # above: III 10, II 20, I 50, dead band 1


@pytest.fixture
def sensor(rule):
    return SensorFactory(sensor_type=rule.sensor_type)


class Clock:
    """Readings a minute apart, in the recent past."""

    def __init__(self):
        self.at = timezone.now() - timedelta(minutes=50)

    def next(self):
        self.at += timedelta(minutes=1)
        return self.at


@pytest.fixture
def feed(sensor):
    clock = Clock()

    def feed(*values, target=sensor):
        stored = Reading.objects.bulk_create(Reading(sensor=target, observed_at=clock.next(), value=v) for v in values)
        readings_record_stored(readings=stored)
        return services.sensor_evaluate(sensor_id=target.pk)

    return feed


def open_warning(sensor):
    return Warning.objects.exclude(status=WarningStatus.CLOSED).get(sensor=sensor)


@pytest.mark.parametrize(
    ("value", "in_warning", "expected"),
    [
        (9.9, False, NORMAL),
        (10, False, 3),
        (20, False, 2),
        (49.9, False, 2),
        (50, False, 1),
        (9.5, True, HOLD),
        (8.9, True, NORMAL),
    ],
)
def test_classify_an_upper_limit(rule, value, in_warning, expected):
    assert classify(rule, value, in_warning=in_warning) == expected


@pytest.mark.parametrize(("value", "expected"), [(0.25, NORMAL), (0.2, 3), (0.15, 2), (0.1, 1), (0.0, 1)])
def test_classify_a_lower_limit(value, expected):
    rule = ThresholdRule(direction=Direction.BELOW, level3_threshold=0.2, level2_threshold=0.16, level1_threshold=0.12)
    assert classify(rule, value, in_warning=False) == expected


UPPER = ThresholdRule(
    direction=Direction.ABOVE, level3_threshold=10, level2_threshold=20, level1_threshold=50, dead_band=1
)
LOWER = ThresholdRule(
    direction=Direction.BELOW, level3_threshold=0.2, level2_threshold=0.16, level1_threshold=0.12, dead_band=0.01
)


@pytest.mark.parametrize("rule", [UPPER, LOWER], ids=["upper", "lower"])
@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 0.99])
def test_a_value_picked_for_a_level_is_classified_at_that_level(rule, level, fraction):
    value = value_at_level(rule, level, fraction)

    assert classify(rule, value, in_warning=False) == level
    assert classify(rule, value, in_warning=True) == level


@pytest.mark.parametrize(
    ("rule", "level", "fraction", "expected"),
    [
        (UPPER, 3, 0.0, 10),  # on the threshold: reaching it counts
        (UPPER, 3, 0.5, 15),
        (UPPER, 2, 0.5, 35),
        (UPPER, 1, 0.5, 65),  # Level I's open band is taken as wide as Level II's
        (LOWER, 3, 0.5, 0.18),
        (LOWER, 1, 0.5, 0.10),
    ],
)
def test_a_value_for_a_level_lies_that_far_through_its_band(rule, level, fraction, expected):
    assert value_at_level(rule, level, fraction) == pytest.approx(expected)


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_a_fraction_outside_the_band_is_refused(fraction):
    with pytest.raises(ValueError, match="fraction"):
        value_at_level(UPPER, 2, fraction)


@pytest.mark.parametrize(
    ("rule", "limit", "inside", "past"),
    [(UPPER, 9, 9.5, 8.9), (LOWER, 0.21, 0.205, 0.215)],
    ids=["upper", "lower"],
)
def test_a_warning_holds_inside_the_recovery_limit_and_recovers_past_it(rule, limit, inside, past):
    assert recovery_limit(rule) == pytest.approx(limit)
    assert classify(rule, inside, in_warning=True) == HOLD
    assert classify(rule, past, in_warning=True) == NORMAL


def test_a_normal_reading_opens_nothing(sensor, feed):
    assert feed(3.0, 5.0) == 0
    assert not Warning.objects.exists()
    assert RuleState.objects.get(sensor=sensor).evaluated_through is not None


def test_a_reading_past_a_threshold_opens_a_warning_at_that_level(sensor, feed):
    feed(25.0)

    warning = open_warning(sensor)
    assert warning.level == 2
    assert warning.status == WarningStatus.ACTIVE
    assert warning.first_value == 25.0
    assert [(t.kind, t.from_level, t.to_level) for t in warning.transitions.all()] == [("opened", None, 2)]
    sensor.refresh_from_db()
    assert sensor.warning_level == 2


def test_a_worse_reading_escalates_the_open_warning(sensor, feed):
    feed(12.0)
    feed(30.0)
    feed(60.0)

    assert Warning.objects.count() == 1
    warning = open_warning(sensor)
    assert warning.level == 1
    assert warning.peak_value == 60.0
    history = [(t.kind, t.from_level, t.to_level, t.value) for t in warning.transitions.all()]
    assert history == [("opened", None, 3, 12.0), ("escalated", 3, 2, 30.0), ("escalated", 2, 1, 60.0)]


def test_a_milder_reading_does_not_lower_the_level(sensor, feed):
    feed(60.0)
    feed(15.0)
    warning = open_warning(sensor)
    assert warning.level == 1
    assert warning.last_value == 15.0
    assert warning.transitions.count() == 1


def test_back_to_normal_recovers_but_keeps_the_warning_open(sensor, feed):
    feed(30.0)
    feed(2.0)

    warning = open_warning(sensor)
    assert warning.status == WarningStatus.RECOVERED
    assert warning.recovered_at is not None
    assert warning.is_open
    assert [t.kind for t in warning.transitions.all()] == ["opened", "recovered"]
    sensor.refresh_from_db()
    assert sensor.warning_level is None


def test_the_dead_band_stops_flapping(sensor, feed):
    feed(10.5)
    feed(9.5, 10.2, 9.4, 10.1)  # hovering around the Level III threshold, inside the dead band

    warning = open_warning(sensor)
    assert warning.status == WarningStatus.ACTIVE
    assert [t.kind for t in warning.transitions.all()] == ["opened"]
    feed(8.9)  # past the dead band
    assert open_warning(sensor).status == WarningStatus.RECOVERED


def test_a_recovered_warning_flaring_up_is_reactivated_not_duplicated(sensor, feed):
    feed(30.0, 2.0)
    feed(60.0)

    assert Warning.objects.count() == 1
    warning = open_warning(sensor)
    assert warning.status == WarningStatus.ACTIVE
    assert warning.level == 1
    assert [(t.kind, t.to_level) for t in warning.transitions.all()] == [
        ("opened", 2),
        ("recovered", 2),
        ("reactivated", 1),
    ]


def test_after_closing_a_new_exceedance_opens_a_new_warning(sensor, feed, duty_officer):
    feed(30.0)
    first = open_warning(sensor)
    services.warning_close(warning_id=first.pk, user=duty_officer, note="Valve replaced.", close_active=True)

    feed(35.0)

    assert Warning.objects.count() == 2
    assert open_warning(sensor).pk != first.pk


def test_evaluating_twice_changes_nothing(sensor, feed):
    feed(12.0, 30.0)
    before = list(Warning.objects.values("level", "status", "last_value"))

    assert services.sensor_evaluate(sensor_id=sensor.pk) == 0
    assert list(Warning.objects.values("level", "status", "last_value")) == before


def test_a_batch_is_evaluated_in_time_order(sensor):
    now = timezone.now()
    stored = Reading.objects.bulk_create(
        [
            Reading(sensor=sensor, observed_at=now - timedelta(minutes=1), value=2.0),
            Reading(sensor=sensor, observed_at=now - timedelta(minutes=3), value=60.0),
            Reading(sensor=sensor, observed_at=now - timedelta(minutes=2), value=30.0),
        ]
    )
    readings_record_stored(readings=stored)
    services.sensor_evaluate(sensor_id=sensor.pk)

    warning = Warning.objects.get(sensor=sensor)
    assert warning.level == 1
    assert warning.status == WarningStatus.RECOVERED
    assert warning.last_value == 2.0


def test_a_sensor_rule_overrides_its_type_rules(sensor, rule, feed):
    own = ThresholdRuleFactory(
        name="Tighter", sensor_type=None, sensor=sensor, level3_threshold=5, level2_threshold=8, level1_threshold=12
    )
    feed(9.0)
    warning = open_warning(sensor)
    assert warning.rule == own
    assert warning.level == 2


def test_a_lower_limit_rule_warns_on_a_drop():
    rule = ThresholdRuleFactory(
        name="Pressure", direction=Direction.BELOW, level3_threshold=0.2, level2_threshold=0.16, level1_threshold=0.12
    )
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    now = timezone.now()
    stored = Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=now - timedelta(minutes=5 - i), value=v)
        for i, v in enumerate([0.3, 0.18, 0.11])
    )
    readings_record_stored(readings=stored)
    services.sensor_evaluate(sensor_id=sensor.pk)
    warning = Warning.objects.get(sensor=sensor)
    assert warning.level == 1
    assert warning.peak_value == 0.11


def test_the_database_refuses_a_second_open_warning(sensor, rule, feed):
    feed(30.0)
    existing = open_warning(sensor)
    with pytest.raises(IntegrityError), transaction.atomic():
        Warning.objects.create(
            sensor=sensor,
            rule=rule,
            level=3,
            opened_at=existing.opened_at,
            first_value=1,
            last_value=1,
            peak_value=1,
            last_observed_at=existing.opened_at,
        )


def test_closing_needs_a_disposal_note(sensor, feed, duty_officer):
    feed(30.0)
    warning = open_warning(sensor)
    with pytest.raises(InvalidInputError, match="disposal note"):
        services.warning_close(warning_id=warning.pk, user=duty_officer, note="  ")
    assert open_warning(sensor).status == WarningStatus.ACTIVE


def test_the_sweep_finds_readings_no_task_evaluated(sensor, feed):
    from warning import selectors

    feed(3.0)
    later = timezone.now()
    reading = Reading.objects.create(sensor=sensor, observed_at=later, value=30.0)
    readings_record_stored(readings=[reading])

    assert selectors.sensors_with_unevaluated_readings() == [sensor.pk]
    from warning.tasks import evaluate_pending_sensors

    assert evaluate_pending_sensors() == 1
    assert open_warning(sensor).level == 2
    assert selectors.sensors_with_unevaluated_readings() == []


@pytest.mark.parametrize(
    ("direction", "thresholds", "field"),
    [
        (Direction.ABOVE, (10, 10, 50), "level2_threshold"),
        (Direction.ABOVE, (10, 20, 15), "level1_threshold"),
        (Direction.BELOW, (0.2, 0.3, 0.1), "level2_threshold"),
        (Direction.BELOW, (0.2, 0.16, 0.18), "level1_threshold"),
    ],
)
def test_thresholds_out_of_order_are_refused_naming_the_field(rule, direction, thresholds, field):
    rule.direction = direction
    rule.level3_threshold, rule.level2_threshold, rule.level1_threshold = thresholds
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert field in error.value.message_dict


def test_a_dead_band_as_wide_as_the_step_to_level_two_is_refused(rule):
    rule.dead_band = 10.0  # Level III 10, Level II 20: such a warning could never recover
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert "dead_band" in error.value.message_dict
    rule.dead_band = 9.5
    rule.full_clean()


def store(sensor, *points):
    """Readings (minutes ago, value) arriving in the order given."""
    now = timezone.now()
    stored = []
    for minutes, value in points:
        stored.append(Reading.objects.create(sensor=sensor, observed_at=now - timedelta(minutes=minutes), value=value))
        readings_record_stored(readings=stored[-1:])
    return stored


def test_a_late_reading_past_a_threshold_is_not_lost(sensor):
    store(sensor, (1, 3.0))
    services.sensor_evaluate(sensor_id=sensor.pk)
    # A gateway's buffer delivers an older reading: the leak happened.
    store(sensor, (2, 60.0))

    assert services.sensor_evaluate(sensor_id=sensor.pk) == 2

    warning = Warning.objects.get(sensor=sensor)
    assert warning.level == 1
    # The newest reading (3.0) was normal: what the late one tells is over,
    # recorded as history and ended by that reading, at its time.
    assert (warning.status, warning.is_historical) == (WarningStatus.CLOSED, True)
    newest = Reading.objects.filter(sensor=sensor).latest("observed_at")
    assert [(t.kind, t.observed_at) for t in warning.transitions.all()] == [
        ("opened", warning.opened_at),
        ("recovered", newest.observed_at),
    ]
    assert warning.recovered_at == newest.observed_at
    assert warning.peak_value == 60.0


def test_a_late_reading_escalates_but_never_recovers(sensor):
    store(sensor, (3, 30.0), (1, 35.0))
    services.sensor_evaluate(sensor_id=sensor.pk)
    store(sensor, (2, 1.0), (2.5, 70.0))

    services.sensor_evaluate(sensor_id=sensor.pk)

    warning = Warning.objects.get(sensor=sensor)
    assert warning.status == WarningStatus.ACTIVE
    assert warning.level == 1
    assert warning.last_value == 35.0
    assert warning.peak_value == 70.0


def test_a_gateway_clock_running_fast_hides_no_later_reading(sensor):
    ahead = Reading.objects.create(sensor=sensor, observed_at=timezone.now() + timedelta(minutes=4), value=2.0)
    readings_record_stored(readings=[ahead])
    services.sensor_evaluate(sensor_id=sensor.pk)
    assert RuleState.objects.get(sensor=sensor).last_reading_id == ahead.pk
    store(sensor, (0, 30.0))  # the real clock's reading, "older" than the fast one

    services.sensor_evaluate(sensor_id=sensor.pk)

    assert Warning.objects.get(sensor=sensor).level == 2


def test_a_state_of_a_rule_no_longer_in_effect_is_dropped_not_swept_for_ever(sensor, rule, feed):
    from warning import selectors

    feed(3.0)
    ThresholdRuleFactory(name="Own", sensor_type=None, sensor=sensor)  # overrides the type's rule
    store(sensor, (0, 4.0))
    assert selectors.sensors_with_unevaluated_readings() == [sensor.pk]

    services.sensor_evaluate(sensor_id=sensor.pk)

    assert list(RuleState.objects.filter(sensor=sensor).values_list("rule__name", flat=True)) == ["Own"]
    assert selectors.sensors_with_unevaluated_readings() == []
