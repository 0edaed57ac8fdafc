"""A rule's backtest: what it would have raised over the stored readings."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from citysafety.errors import InvalidInputError, TooLargeError
from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, ThresholdRuleFactory, UserFactory
from warning import backtest, services
from warning.models import Direction, ThresholdRule, TransitionKind, WarningTransition

pytestmark = pytest.mark.django_db

RULES = "/admin/warning/thresholdrule/"
BACKTEST = RULES + "backtest/"


@pytest.fixture
def rule():
    return ThresholdRuleFactory()  # above: III 10, II 20, I 50, dead band 1


def store(sensor, points):
    """(minutes ago, value) pairs, stored in bulk."""
    now = timezone.now()
    return Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=now - timedelta(minutes=minutes), value=value) for minutes, value in points
    )


def series(*values, start=600, step=1):
    """Readings ``step`` minutes apart, the first ``start`` minutes ago."""
    return [(start - i * step, value) for i, value in enumerate(values)]


def proposed_copy(rule, **changes) -> ThresholdRule:
    copy = ThresholdRule.objects.get(pk=rule.pk)
    for name, value in changes.items():
        setattr(copy, name, value)
    copy.full_clean()
    return copy


def test_a_warning_opens_escalates_and_recovers_past_the_dead_band(rule):
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    # 12 opens Level III, 25 escalates to II, 9.5 sits in the dead band (holds),
    # 8 recovers; 60 later opens a second one at Level I, in force at the end.
    store(sensor, series(1, 12, 25, 15, 9.5, 8, 3, 60, 55))

    result = backtest.rule_backtest(proposed=proposed_copy(rule), current=rule, days=1)

    first, second = result.proposed.warnings
    minutes = {r.observed_at: r for r in Reading.objects.filter(sensor=sensor)}
    at = sorted(minutes)
    assert (first.opened_at, first.recovered_at) == (at[1], at[5])
    assert first.reached_at == {3: at[1], 2: at[2]}
    assert (first.peak_level, first.peak_value) == (2, 25)
    assert (second.opened_at, second.recovered_at, second.peak_level) == (at[7], None, 1)
    assert result.proposed.count_by_peak_level() == {1: 1, 2: 1, 3: 0}
    assert result.readings == 9
    assert list(result.sensors) == [sensor.pk]


def test_tighter_thresholds_show_the_warnings_only_they_raise(rule):
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    store(sensor, series(5, 8, 5, 30, 5))

    result = backtest.rule_backtest(
        proposed=proposed_copy(rule, level3_threshold=7, level2_threshold=20, dead_band=0.5), current=rule, days=1
    )

    assert result.current.count_by_peak_level() == {1: 0, 2: 1, 3: 0}
    assert result.proposed.count_by_peak_level() == {1: 0, 2: 1, 3: 1}
    (only_new,) = result.only_proposed
    assert (only_new.peak_level, only_new.peak_value) == (3, 8)
    assert result.only_current == []


def test_a_lower_limit_warns_on_the_way_down():
    rule = ThresholdRuleFactory(
        direction=Direction.BELOW, level3_threshold=0.3, level2_threshold=0.2, level1_threshold=0.1, dead_band=0.02
    )
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    store(sensor, series(0.4, 0.25, 0.05, 0.31, 0.33))

    (warning,) = backtest.rule_backtest(proposed=rule, current=None, days=1).proposed.warnings

    assert (warning.peak_level, warning.peak_value) == (1, 0.05)
    assert warning.recovered_at is not None  # 0.31 is in the dead band, 0.33 past it
    assert set(warning.reached_at) == {1, 2, 3}


def test_each_sensor_starts_afresh_and_a_sensor_with_its_own_rule_is_left_out(rule):
    first, second, own = (SensorFactory(sensor_type=rule.sensor_type) for _ in range(3))
    ThresholdRuleFactory(sensor_type=None, sensor=own)
    store(first, series(1, 30))  # in force at the end of its readings
    store(second, series(1, 1, 2))  # nothing: the first sensor's warning does not spill over
    store(own, series(90, 90))

    result = backtest.rule_backtest(proposed=rule, current=None, days=1)

    assert set(result.sensors) == {first.pk, second.pk}
    (warning,) = result.proposed.warnings
    assert (warning.sensor_id, warning.recovered_at) == (first.pk, None)


def test_readings_outside_the_window_are_not_replayed(rule):
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    store(sensor, [(3 * 24 * 60, 80), (60, 1)])

    result = backtest.rule_backtest(proposed=rule, current=None, days=2)

    assert result.readings == 1
    assert result.proposed.warnings == []


def test_the_replay_raises_what_the_evaluation_raised_on_a_noisy_irregular_series(rule):
    """The same readings through the live evaluation, one at a time in
    observation order, and through the backtest: the same openings, levels
    reached and recoveries."""
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    rng = random.Random(7)
    # Within the last hour: the evaluation of a rule's first readings looks
    # back no further.
    points, minutes = [(59.0, 12), (58.9, 25), (58.8, 60)], 58.7  # opens, then escalates twice
    for _ in range(400):
        minutes -= rng.uniform(0.01, 0.25)  # irregular spacing
        base = rng.choice([2, 2, 2, 9, 9.5, 11, 15, 22, 35, 55])
        points.append((minutes, round(base + rng.uniform(-1.5, 1.5), 2)))
    for reading in store(sensor, points):
        readings_record_stored(readings=[reading])
        services.sensor_evaluate(sensor_id=sensor.pk)

    replayed = backtest.rule_backtest(proposed=rule, current=None, days=1).proposed.warnings

    transitions = list(WarningTransition.objects.filter(warning__sensor=sensor).order_by("observed_at", "pk"))
    starts = [t.observed_at for t in transitions if t.kind in (TransitionKind.OPENED, TransitionKind.REACTIVATED)]
    ends = [t.observed_at for t in transitions if t.kind == TransitionKind.RECOVERED]
    assert len(replayed) > 5, "the series should raise several warnings"
    assert [w.opened_at for w in replayed] == starts
    assert [w.recovered_at for w in replayed if w.recovered_at] == ends
    # The live warning is reopened at its worst level so far, so it escalates
    # only past that; each escalation it records is one the replay saw too.
    escalations = {(t.observed_at, t.to_level) for t in transitions if t.kind == TransitionKind.ESCALATED}
    replayed_levels = {(at, level) for w in replayed for level, at in w.reached_at.items()}
    assert escalations
    assert escalations <= replayed_levels
    assert min(t.to_level for t in transitions) == min(w.peak_level for w in replayed)


def test_a_window_outside_the_limits_is_refused(rule):
    with pytest.raises(InvalidInputError, match="between 1 and 90 days"):
        backtest.rule_backtest(proposed=rule, current=None, days=0)
    with pytest.raises(InvalidInputError):
        backtest.rule_backtest(proposed=rule, current=None, days=91)


@override_settings(BACKTEST_MAX_READINGS=3)
def test_more_readings_than_memory_allows_are_refused_with_what_to_change(rule):
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    store(sensor, series(*range(400), start=1000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE monitoring_reading")

    with pytest.raises(TooLargeError, match=r"would read about [\d,]+ readings, more than 3: choose fewer days"):
        backtest.rule_backtest(proposed=rule, current=None, days=1)


# --- in the admin -------------------------------------------------------------


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def rule_form(rule, **overrides):
    return {
        "name": rule.name,
        "is_active": "on",
        "sensor_type": rule.sensor_type_id,
        "sensor": "",
        "direction": rule.direction,
        "level3_threshold": rule.level3_threshold,
        "level2_threshold": rule.level2_threshold,
        "level1_threshold": rule.level1_threshold,
        "dead_band": rule.dead_band,
        "backtest_days": "7",
        **overrides,
    }


def test_the_rule_page_offers_the_backtest_of_what_is_entered(admin_client, rule):
    page = admin_client.get(f"{RULES}{rule.pk}/change/").content.decode()

    assert f'formaction="{BACKTEST}?rule={rule.pk}"' in page
    assert 'name="backtest_days"' in page


def test_the_backtest_page_compares_the_entered_thresholds_with_the_saved_rule_and_saves_nothing(admin_client, rule):
    sensor = SensorFactory(sensor_type=rule.sensor_type, code="GAS-0042")
    store(sensor, series(5, 8, 5, 30, 5))

    response = admin_client.post(f"{BACKTEST}?rule={rule.pk}", rule_form(rule, level3_threshold="7"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Replayed 5 readings of 1 sensor over the last 7 days" in page
    level_three = response.context["levels"][2]
    assert (level_three["proposed"], level_three["current"]) == (1, 0)
    assert response.context["only_proposed_total"] == 1
    assert "GAS-0042" in page
    rule.refresh_from_db()
    assert rule.level3_threshold == 10


def test_a_new_rule_can_be_backtested_before_it_exists(admin_client, rule):
    store(SensorFactory(sensor_type=rule.sensor_type), series(5, 60))

    response = admin_client.post(BACKTEST, rule_form(rule, name="Another"))

    assert response.context["result"].current is None
    assert response.context["proposed_total"] == 1
    assert ThresholdRule.objects.count() == 1


def test_contradictory_thresholds_are_listed_instead_of_a_backtest(admin_client, rule):
    response = admin_client.post(f"{BACKTEST}?rule={rule.pk}", rule_form(rule, level2_threshold="5"))

    assert "result" not in response.context
    ((label, message),) = response.context["form_errors"]
    assert "Level II threshold" in label
    assert "greater than Level III" in message


@pytest.mark.parametrize(("days", "message"), [("x", "as a whole number"), ("400", "between 1 and 90 days")])
def test_a_bad_number_of_days_gets_a_clear_message(admin_client, rule, days, message):
    response = admin_client.post(f"{BACKTEST}?rule={rule.pk}", rule_form(rule, backtest_days=days))

    assert message in response.context["error"]


def test_an_unknown_rule_is_a_404_and_a_get_goes_back_to_the_list(admin_client, rule):
    assert admin_client.post(f"{BACKTEST}?rule=999999", rule_form(rule)).status_code == 404
    response = admin_client.get(BACKTEST)
    assert (response.status_code, response["Location"]) == (302, RULES)


def test_staff_who_may_not_change_rules_cannot_backtest(client, rule):
    client.force_login(UserFactory(is_staff=True))

    response = client.post(f"{BACKTEST}?rule={rule.pk}", rule_form(rule))

    assert response.status_code == 403
