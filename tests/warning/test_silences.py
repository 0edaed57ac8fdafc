"""Silences (maintenance windows): readings stored and evaluated, no warning
opens or comes back and nothing is dispatched while one is in force; a
condition still true when it ends opens its warning."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from citysafety.errors import ConflictError, InvalidInputError
from dispatch.models import WorkOrder
from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import (
    DepartmentFactory,
    GatewayFactory,
    RoutingPolicyFactory,
    SensorFactory,
    ThresholdRuleFactory,
    UserFactory,
)
from warning import services, silences
from warning.models import RuleState, Silence, TransitionKind, Warning, WarningStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule():
    return ThresholdRuleFactory()  # above: III 10, II 20, I 50, dead band 1


@pytest.fixture
def sensor(rule):
    return SensorFactory(sensor_type=rule.sensor_type)


@pytest.fixture
def person():
    return UserFactory(username="maint", first_name="Wang")


class Clock:
    def __init__(self):
        self.at = timezone.now() - timedelta(minutes=50)

    def next(self):
        self.at += timedelta(minutes=1)
        return self.at


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def feed(sensor, clock):
    def feed(*values, target=sensor, at=None):
        stored = Reading.objects.bulk_create(
            Reading(sensor=target, observed_at=at or clock.next(), value=v) for v in values
        )
        readings_record_stored(readings=stored)
        return services.sensor_evaluate(sensor_id=target.pk)

    return feed


def silence(person, *, minutes_ago=60, lasts=120, **target) -> Silence:
    now = timezone.now()
    return Silence.objects.create(
        created_by=person,
        reason="Pipe replacement",
        starts_at=now - timedelta(minutes=minutes_ago),
        ends_at=now - timedelta(minutes=minutes_ago) + timedelta(minutes=lasts),
        **target,
    )


def open_warnings(sensor):
    return Warning.objects.filter(sensor=sensor).exclude(status=WarningStatus.CLOSED)


def test_a_silenced_sensors_readings_are_stored_and_evaluated_but_open_no_warning(sensor, rule, feed, person):
    silence(person, sensor=sensor)

    assert feed(60.0, 15.0, 70.0) == 0

    assert Reading.objects.filter(sensor=sensor).count() == 3
    assert RuleState.objects.get(sensor=sensor, rule=rule).last_reading_id == Reading.objects.latest("id").pk
    assert not Warning.objects.filter(sensor=sensor).exists()


@pytest.mark.parametrize("target", ["gateway", "district", "sensor_type"])
def test_a_silence_of_a_gateway_district_or_sensor_type_covers_its_sensors_only(rule, feed, person, target):
    gateway = GatewayFactory()
    covered = SensorFactory(sensor_type=rule.sensor_type, gateway=gateway)
    other_type = ThresholdRuleFactory(sensor_type__code="pressure").sensor_type
    elsewhere = SensorFactory(sensor_type=other_type)  # another district, another type, no gateway
    silence(person, **{target: getattr(covered, target)})

    feed(60.0, target=covered)
    feed(60.0, target=elsewhere)

    assert not open_warnings(covered).exists()
    assert open_warnings(elsewhere).get().level == 1


def test_an_open_warning_neither_escalates_nor_comes_back_while_silenced_but_may_recover(sensor, feed, person):
    feed(15.0)
    warning = open_warnings(sensor).get()
    silence(person, sensor=sensor)

    feed(60.0)
    warning.refresh_from_db()
    assert (warning.level, warning.status, warning.last_value, warning.peak_value) == (3, "active", 60.0, 60.0)

    feed(5.0)
    warning.refresh_from_db()
    assert warning.status == WarningStatus.RECOVERED

    feed(70.0, 80.0)
    warning.refresh_from_db()
    assert (warning.status, warning.level) == (WarningStatus.RECOVERED, 3)
    kinds = list(warning.transitions.values_list("kind", flat=True))
    assert kinds == [TransitionKind.OPENED, TransitionKind.RECOVERED]


def test_a_noisy_series_under_a_silence_writes_no_transition_and_no_work_order(sensor, rule, feed, person):
    department = DepartmentFactory()
    RoutingPolicyFactory(domain=rule.sensor_type.domain, level=3, departments=[department])
    silence(person, sensor=sensor)

    noisy = [5.0, 60.0, 9.0, 55.0, 11.0, float(20), 3.0, 51.0, 9.5, 49.0] * 3
    assert feed(*noisy) == 0

    assert not Warning.objects.exists()
    assert not WorkOrder.objects.exists()


def test_a_late_reading_from_inside_a_past_silence_opens_nothing(sensor, feed, person):
    # The silence covered 40 to 20 minutes ago and has ended; a gateway's
    # buffer delivers a reading from inside it only now.
    silence(person, sensor=sensor, minutes_ago=40, lasts=20)
    feed(1.0)

    feed(60.0, at=timezone.now() - timedelta(minutes=30))

    assert not Warning.objects.filter(sensor=sensor).exists()
    # Outside the window the same value opens a warning (recovered at once: it was late).
    feed(60.0, at=timezone.now() - timedelta(minutes=45))
    assert Warning.objects.filter(sensor=sensor).count() == 1


def test_a_scheduled_silence_does_not_hold_back_readings_before_it_starts(sensor, feed, person):
    now = timezone.now()
    Silence.objects.create(
        created_by=person,
        reason="Tomorrow's work",
        sensor=sensor,
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=3),
    )

    feed(60.0)

    assert open_warnings(sensor).get().level == 1


def test_when_a_silence_ends_a_condition_still_true_opens_its_warning_once(sensor, rule, feed, person):
    department = DepartmentFactory()
    RoutingPolicyFactory(domain=rule.sensor_type.domain, level=3, departments=[department])
    held = silence(person, sensor=sensor)
    feed(25.0)
    assert not Warning.objects.exists()

    Silence.objects.filter(pk=held.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert silences.silences_lift() == 1

    warning = open_warnings(sensor).get()
    assert (warning.level, warning.status, warning.last_value) == (2, WarningStatus.ACTIVE, 25.0)
    assert WorkOrder.objects.filter(warning=warning, department=department).count() == 1
    held.refresh_from_db()
    assert held.lifted_at is not None
    # The sweep again: nothing left to lift, nothing changes.
    assert silences.silences_lift() == 0
    assert services.sensors_reevaluate_latest(sensor_ids=[sensor.pk]) == 0
    assert warning.transitions.count() == 1
    assert WorkOrder.objects.count() == 1


def test_a_condition_back_to_normal_when_the_silence_ends_opens_nothing(sensor, feed, person):
    held = silence(person, sensor=sensor)
    feed(60.0, 4.0)

    Silence.objects.filter(pk=held.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert silences.silences_lift() == 0

    assert not Warning.objects.exists()


def test_a_sensor_still_under_another_silence_stays_quiet_when_one_ends(sensor, feed, person):
    short = silence(person, sensor=sensor)
    silence(person, district=sensor.district, lasts=240)
    feed(60.0)

    Silence.objects.filter(pk=short.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    silences.silences_lift()

    assert not Warning.objects.exists()


def test_ending_a_silence_early_opens_what_it_held_back_and_says_who_ended_it(sensor, feed, person):
    held = silence(person, sensor=sensor)
    feed(60.0)
    officer = UserFactory(username="officer")

    ended = silences.silence_end(silence_id=held.pk, user=officer)

    assert ended.ended_by == officer
    assert ended.ends_at <= timezone.now()
    assert open_warnings(sensor).get().level == 1
    with pytest.raises(ConflictError, match="already ended"):
        silences.silence_end(silence_id=held.pk, user=officer)


def test_calling_off_a_scheduled_silence_keeps_it_listed_as_ended(sensor, person):
    now = timezone.now()
    planned = Silence.objects.create(
        created_by=person,
        reason="Planned",
        sensor=sensor,
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=2),
    )

    silences.silence_end(silence_id=planned.pk, user=person)

    planned.refresh_from_db()
    assert planned.starts_at < planned.ends_at <= timezone.now()


def test_the_silence_check_is_one_query_per_chunk_however_many_sensors(rule, person, clock):
    sensors = [SensorFactory(sensor_type=rule.sensor_type) for _ in range(30)]
    silence(person, sensor_type=rule.sensor_type)
    at = clock.next()
    stored = Reading.objects.bulk_create(Reading(sensor=s, observed_at=at, value=60.0) for s in sensors)
    readings_record_stored(readings=stored)

    with CaptureQueriesContext(connection) as queries:
        services.sensors_evaluate(sensor_ids=[s.pk for s in sensors])

    assert sum("warning_silence" in q["sql"] for q in queries.captured_queries) == 1
    assert not Warning.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"starts_at": 2, "ends_at": 1}, "ends_at", "ends before it starts"),
        ({"starts_at": -3, "ends_at": -1}, "ends_at", "expiry is in the past"),
        ({"reason": "   "}, "reason", "Say why"),
    ],
)
def test_bad_silences_are_refused_with_what_to_change(sensor, person, change, field, message):
    now = timezone.now()
    arguments = {"reason": "Work", "starts_at": now, "ends_at": now + timedelta(hours=1), "sensor": sensor}
    for name, hours in change.items():
        arguments[name] = now + timedelta(hours=hours) if isinstance(hours, int) else hours

    with pytest.raises(InvalidInputError, match=message) as error:
        silences.silence_create(user=person, **arguments)

    assert error.value.field == field
    assert not Silence.objects.exists()


@pytest.mark.parametrize("targets", [{}, {"both": True}])
def test_a_silence_needs_exactly_one_target(sensor, person, targets):
    extra = {"district": sensor.district} if targets else {}
    target = {"sensor": sensor} if targets else {}
    with pytest.raises(InvalidInputError, match="exactly one"):
        silences.silence_create(
            user=person, reason="Work", ends_at=timezone.now() + timedelta(hours=1), **target, **extra
        )


def test_the_map_knows_which_sensors_are_silenced_now(sensor, rule, person):
    other = SensorFactory(sensor_type=rule.sensor_type)
    silence(person, sensor=sensor)
    silence(person, sensor=other, minutes_ago=180, lasts=60)  # ended two hours ago

    assert silences.sensors_silenced_now([sensor.pk, other.pk]) == {sensor.pk}
