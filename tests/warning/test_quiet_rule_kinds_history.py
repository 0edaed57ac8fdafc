"""Silences meet back-filled history and the rule kinds: a maintenance
window is no evidence of the past, holds back no-data warnings and gateway
outages, and its lifting re-evaluates only what a stored value can say."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import GatewayFactory, SensorFactory, ThresholdRuleFactory, UserFactory
from warning import services, silences
from warning.models import GatewayOutage, RuleKind, Silence, Warning
from warning.no_data import sensors_warn_silent

pytestmark = pytest.mark.django_db

NO_DATA = {
    "kind": RuleKind.NO_DATA,
    "no_data_seconds": 600,
    "no_data_level": 2,
    "level3_threshold": None,
    "level2_threshold": None,
    "level1_threshold": None,
    "dead_band": 0,
}


def feed(sensor, *points):
    stored = Reading.objects.bulk_create([Reading(sensor=sensor, observed_at=at, value=v) for at, v in points])
    readings_record_stored(readings=stored)
    return services.sensor_evaluate(sensor_id=sensor.pk)


def silence(*, starts_at, ends_at, **target) -> Silence:
    return Silence.objects.create(
        created_by=UserFactory(), reason="Pipe replacement", starts_at=starts_at, ends_at=ends_at, **target
    )


def test_a_back_filled_excursion_inside_a_past_silence_is_not_history_one_outside_is():
    rule = ThresholdRuleFactory()  # above: III 10, II 20, I 50, dead band 1
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    start = timezone.now() - timedelta(days=2)
    silence(starts_at=start + timedelta(hours=1), ends_at=start + timedelta(hours=2), sensor=sensor)

    def at(minutes):
        return start + timedelta(minutes=minutes)

    feed(
        sensor,
        *[(at(m), 5.0) for m in (0, 30)],
        (at(70), 60.0),  # under the silence: the maintenance crew at work
        (at(80), 4.0),
        (at(150), 25.0),  # after it: a real excursion
        (at(160), 4.0),
    )
    warning = Warning.objects.get()
    assert warning.is_historical
    assert (warning.opened_at, warning.level, warning.peak_value) == (at(150), 2, 25.0)


def test_the_no_data_sweep_opens_nothing_for_a_silenced_sensor_or_gateway_until_the_silence_ends():
    rule = ThresholdRuleFactory(name="Silent 10 min", **NO_DATA)
    now = timezone.now()
    sensor = SensorFactory(
        sensor_type=rule.sensor_type, latest_value=1.0, latest_observed_at=now - timedelta(minutes=30)
    )
    held = silence(starts_at=now - timedelta(minutes=40), ends_at=now + timedelta(hours=1), sensor=sensor)
    gateway = GatewayFactory()
    for _ in range(3):
        SensorFactory(
            sensor_type=rule.sensor_type,
            gateway=gateway,
            latest_value=1.0,
            latest_observed_at=now - timedelta(minutes=30),
        )
    silence(starts_at=now - timedelta(minutes=40), ends_at=now + timedelta(hours=1), gateway=gateway)

    result = sensors_warn_silent()
    assert (result.opened, result.outages_opened) == (0, 0)
    assert not Warning.objects.exists()
    assert not GatewayOutage.objects.exists()

    Silence.objects.filter(pk=held.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert sensors_warn_silent().opened == 1
    assert Warning.objects.get().sensor == sensor


def test_lifting_a_silence_does_not_open_a_duration_or_rate_rule_on_the_stored_value():
    held_rule = ThresholdRuleFactory(hold_readings=3)
    sensor = SensorFactory(sensor_type=held_rule.sensor_type)
    rate_rule = ThresholdRuleFactory(
        kind=RuleKind.RATE,
        level3_threshold=0.5,
        level2_threshold=1.0,
        level1_threshold=2.0,
        dead_band=0.1,
        rate_window_seconds=3600,
    )
    gauge = SensorFactory(sensor_type=rate_rule.sensor_type)
    now = timezone.now()
    held = [
        silence(starts_at=now - timedelta(minutes=30), ends_at=now + timedelta(hours=1), sensor=target)
        for target in (sensor, gauge)
    ]
    feed(sensor, (now - timedelta(minutes=5), 25.0))
    feed(gauge, (now - timedelta(minutes=5), 25.0))
    assert not Warning.objects.exists()

    Silence.objects.filter(pk__in=[s.pk for s in held]).update(ends_at=now - timedelta(minutes=1))
    assert silences.silences_lift() == 0
    # 25 is over the duration rule's thresholds but held for one reading,
    # and a rate rule's 25 would be a change, which it is not.
    assert not Warning.objects.exists()
    # Readings after the silence count the run afresh.
    feed(sensor, *[(now - timedelta(seconds=s), 25.0) for s in (30, 20, 10)])
    warning = Warning.objects.get()
    assert (warning.rule, warning.opened_at) == (held_rule, now - timedelta(seconds=10))
