"""No-data rules: a silent sensor warns, data recovers it, a silent gateway folds its sensors into one outage."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from monitoring.models import Gateway, Reading, SensorState
from monitoring.services import readings_record_stored
from tests.factories import GatewayFactory, SensorFactory, SensorTypeFactory, ThresholdRuleFactory
from warning import services
from warning.models import GatewayOutage, RuleKind, TransitionKind, Warning, WarningStatus
from warning.no_data import sensors_warn_silent

NO_DATA = {
    "kind": RuleKind.NO_DATA,
    "no_data_seconds": 600,
    "no_data_level": 2,
    "level3_threshold": None,
    "level2_threshold": None,
    "level1_threshold": None,
    "dead_band": 0,
}


def silent_sensor(sensor_type, *, minutes: float, gateway=None, value: float = 1.0):
    return SensorFactory(
        sensor_type=sensor_type,
        gateway=gateway,
        latest_value=value,
        latest_observed_at=timezone.now() - timedelta(minutes=minutes),
    )


def store(sensor, observed_at, value):
    stored = Reading.objects.bulk_create([Reading(sensor=sensor, observed_at=observed_at, value=value)])
    readings_record_stored(readings=stored)
    return services.sensor_evaluate(sensor_id=sensor.pk)


@pytest.mark.django_db
class TestSilentSensors:
    @pytest.fixture
    def rule(self):
        return ThresholdRuleFactory(name="Silent 10 min", **NO_DATA)

    def test_a_sensor_silent_longer_than_the_rule_allows_warns_at_the_configured_level(self, rule):
        silent = silent_sensor(rule.sensor_type, minutes=11)
        quiet = silent_sensor(rule.sensor_type, minutes=9)
        result = sensors_warn_silent()
        assert result.opened == 1
        warning = Warning.objects.get()
        assert (warning.sensor, warning.rule, warning.level) == (silent, rule, 2)
        # Opened when the silence crossed the limit, not when the sweep ran.
        assert warning.opened_at == silent.state.latest_observed_at + timedelta(minutes=10)
        silent.refresh_from_db()
        assert silent.warning_level == 2
        assert not Warning.objects.filter(sensor=quiet).exists()
        # Swept again: still one warning.
        assert sensors_warn_silent().opened == 0
        assert Warning.objects.count() == 1

    def test_the_next_reading_recovers_it_but_a_late_one_does_not(self, rule):
        sensor = silent_sensor(rule.sensor_type, minutes=30)
        # Evaluation has seen the sensor's last reading before the silence.
        last = sensor.state.latest_observed_at
        store(sensor, last, 1.0)
        sensors_warn_silent()
        warning = Warning.objects.get()
        store(sensor, last - timedelta(minutes=5), 1.0)  # late: from before the silence
        warning.refresh_from_db()
        assert warning.status == WarningStatus.ACTIVE
        store(sensor, timezone.now() - timedelta(seconds=5), 1.1)
        warning.refresh_from_db()
        assert warning.status == WarningStatus.RECOVERED
        assert list(warning.transitions.values_list("kind", flat=True)) == [
            TransitionKind.OPENED,
            TransitionKind.RECOVERED,
        ]
        # Silent again: the recovered warning comes back rather than a second one.
        SensorState.objects.filter(sensor=sensor).update(latest_observed_at=timezone.now() - timedelta(minutes=20))
        assert sensors_warn_silent().reactivated == 1
        warning.refresh_from_db()
        assert warning.status == WarningStatus.ACTIVE
        assert Warning.objects.count() == 1

    def test_a_rule_on_the_sensor_overrides_its_types_no_data_rule(self, rule):
        sensor = silent_sensor(rule.sensor_type, minutes=15)
        ThresholdRuleFactory(sensor_type=None, sensor=sensor, **{**NO_DATA, "no_data_seconds": 3600})
        assert sensors_warn_silent().opened == 0

    def test_a_sensor_that_never_reported_or_is_inactive_is_not_warned_of(self, rule):
        SensorFactory(sensor_type=rule.sensor_type)
        SensorFactory(
            sensor_type=rule.sensor_type,
            is_active=False,
            latest_value=1,
            latest_observed_at=timezone.now() - timedelta(hours=2),
        )
        assert sensors_warn_silent().opened == 0

    def test_threshold_rules_of_the_same_type_keep_working_beside_it(self, rule):
        ThresholdRuleFactory(sensor_type=rule.sensor_type)
        sensor = SensorFactory(sensor_type=rule.sensor_type)
        store(sensor, timezone.now() - timedelta(minutes=1), 25)
        assert Warning.objects.get().level == 2
        assert sensors_warn_silent().opened == 0


@pytest.mark.django_db
class TestGatewayOutage:
    @pytest.fixture
    def sensor_type(self):
        sensor_type = SensorTypeFactory()
        ThresholdRuleFactory(sensor_type=sensor_type, **NO_DATA)
        return sensor_type

    def test_a_silent_gateways_sensors_fold_into_one_outage(self, sensor_type):
        down = GatewayFactory(code="gw-down")
        Gateway.objects.filter(pk=down.pk).update(last_seen_at=timezone.now() - timedelta(minutes=30))
        up = GatewayFactory(code="gw-up")
        Gateway.objects.filter(pk=up.pk).update(last_seen_at=timezone.now())
        for _ in range(40):
            silent_sensor(sensor_type, minutes=31, gateway=down)
        lone = silent_sensor(sensor_type, minutes=31, gateway=up)
        result = sensors_warn_silent()
        assert (result.opened, result.outages_opened, result.folded_sensors) == (1, 1, 40)
        assert Warning.objects.get().sensor == lone
        outage = GatewayOutage.objects.get()
        assert (outage.gateway_id, outage.silent_sensors, outage.level) == (down.pk, 40, 2)
        # The next sweep keeps the one outage.
        assert sensors_warn_silent().outages_opened == 0
        assert GatewayOutage.objects.count() == 1
        assert Warning.objects.count() == 1

    def test_the_outage_ends_when_the_gateway_is_heard_and_sensors_still_silent_then_warn(self, sensor_type):
        gateway = GatewayFactory()
        Gateway.objects.filter(pk=gateway.pk).update(last_seen_at=timezone.now() - timedelta(minutes=30))
        sensors = [silent_sensor(sensor_type, minutes=31, gateway=gateway) for _ in range(3)]
        sensors_warn_silent()
        Gateway.objects.filter(pk=gateway.pk).update(last_seen_at=timezone.now())
        result = sensors_warn_silent()
        assert result.outages_recovered == 1
        outage = GatewayOutage.objects.get()
        assert outage.status == WarningStatus.RECOVERED
        # The gateway is back but these three sent nothing: each is its own fault now.
        assert result.opened == 3
        assert set(Warning.objects.values_list("sensor_id", flat=True)) == {s.pk for s in sensors}


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_open_one_warning_per_sensor():
    sensor_type = SensorTypeFactory()
    ThresholdRuleFactory(sensor_type=sensor_type, **NO_DATA)
    sensors = [silent_sensor(sensor_type, minutes=20) for _ in range(30)]
    barrier = threading.Barrier(2)
    errors = []

    def sweep():
        try:
            barrier.wait(timeout=10)
            sensors_warn_silent()
        except Exception as error:  # reported below, with the test's failure
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    # One sweep may skip sensors the other held: a third finds what is left.
    sensors_warn_silent()
    assert sorted(Warning.objects.values_list("sensor_id", flat=True)) == sorted(s.pk for s in sensors)


@pytest.mark.django_db
def test_closing_an_active_no_data_warning_says_the_sensor_is_still_silent(duty_officer):
    from citysafety.errors import ConflictError

    rule = ThresholdRuleFactory(**NO_DATA)
    silent_sensor(rule.sensor_type, minutes=40)
    sensors_warn_silent()
    warning = Warning.objects.get()
    with pytest.raises(ConflictError, match="still silent: no reading since"):
        services.warning_close(warning_id=warning.pk, user=duty_officer, note="checked")
