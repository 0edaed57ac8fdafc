"""Flapping: a recovered warning that fires again comes back (within the
configured window), and one that flips too often is marked flapping and
pushed coalesced rather than change by change."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning import pushes, services
from warning.models import TransitionKind, Warning, WarningStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def sensor():
    return SensorFactory(sensor_type=ThresholdRuleFactory().sensor_type)  # above: III 10, II 20, I 50


@pytest.fixture
def feed(sensor):
    at = [timezone.now() - timedelta(minutes=55)]

    def feed(*values, step=timedelta(minutes=1)):
        readings = []
        for value in values:
            at[0] += step
            readings.append(Reading(sensor=sensor, observed_at=at[0], value=value))
        readings_record_stored(readings=Reading.objects.bulk_create(readings))
        return services.sensor_evaluate(sensor_id=sensor.pk)

    return feed


def test_a_recovered_warning_firing_again_comes_back_as_the_same_warning_by_default(sensor, feed):
    feed(15.0, 5.0)
    feed(30.0, step=timedelta(minutes=40))

    warning = Warning.objects.get(sensor=sensor)
    assert (warning.status, warning.level) == (WarningStatus.ACTIVE, 2)
    assert list(warning.transitions.values_list("kind", flat=True)) == ["opened", "recovered", "reactivated"]


def test_within_the_reactivation_window_the_warning_comes_back(sensor, feed, settings):
    settings.WARNING_REACTIVATION_WINDOW_SECONDS = 600
    feed(15.0, 5.0)
    feed(30.0, step=timedelta(minutes=9))

    assert Warning.objects.filter(sensor=sensor).count() == 1
    assert Warning.objects.get(sensor=sensor).status == WarningStatus.ACTIVE


def test_past_the_reactivation_window_the_old_warning_closes_and_a_new_one_opens(sensor, feed, settings):
    settings.WARNING_REACTIVATION_WINDOW_SECONDS = 600
    feed(15.0, 5.0)
    old = Warning.objects.get(sensor=sensor)

    feed(30.0, step=timedelta(minutes=11))

    old.refresh_from_db()
    assert old.status == WarningStatus.CLOSED
    assert "reactivation window" in old.disposal_note
    assert old.transitions.last().kind == TransitionKind.CLOSED
    new = Warning.objects.exclude(pk=old.pk).get(sensor=sensor)
    assert (new.status, new.level, new.first_value) == (WarningStatus.ACTIVE, 2, 30.0)
    sensor.refresh_from_db()
    assert sensor.warning_level == 2


def test_a_warning_flipping_more_than_the_limit_within_an_hour_is_marked_flapping(sensor, feed, settings):
    settings.WARNING_FLAP_LIMIT = 4
    feed(15.0, 5.0, 15.0, 5.0)  # opened, then flips 1-3
    warning = Warning.objects.get(sensor=sensor)
    assert not warning.is_flapping

    feed(15.0, 5.0)  # flips 4 and 5
    warning.refresh_from_db()
    assert warning.is_flapping
    assert warning.flapping_since == warning.transitions.filter(kind="recovered").last().observed_at
    # Still one warning, with every flip recorded.
    assert Warning.objects.filter(sensor=sensor).count() == 1
    assert warning.transitions.filter(kind__in=["recovered", "reactivated"]).count() == 5


def test_a_flapping_warnings_flips_are_pushed_coalesced_not_one_by_one(
    sensor, feed, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.WARNING_FLAP_LIMIT = 2
    pushed, coalesced = [], []
    monkeypatch.setattr(pushes, "push_warnings", lambda *, warning_ids: pushed.extend(warning_ids))
    monkeypatch.setattr(pushes, "_value_push_schedule", lambda warning_id: coalesced.append(warning_id))

    with django_capture_on_commit_callbacks(execute=True):
        feed(15.0, 5.0, 15.0)  # opened, recovered, reactivated: pushed (once, as it stands after the commit)
    assert len(pushed) == 1

    with django_capture_on_commit_callbacks(execute=True):
        feed(5.0)  # the third flip marks it: pushed at once, so the page shows the mark
    assert len(pushed) == 2
    assert Warning.objects.get(sensor=sensor).is_flapping

    with django_capture_on_commit_callbacks(execute=True):
        feed(15.0, 5.0, 15.0, 5.0)
    assert len(pushed) == 2
    assert len(coalesced) >= 4


def test_a_steady_noisy_value_inside_the_dead_band_is_no_flapping(sensor, feed, settings):
    settings.WARNING_FLAP_LIMIT = 2
    feed(12.0, 9.5, 10.5, 9.2, 11.0, 9.4, 10.0)  # hovering at Level III, never past the dead band

    warning = Warning.objects.get(sensor=sensor)
    assert warning.transitions.count() == 1
    assert not warning.is_flapping


def test_the_mark_clears_once_the_last_hour_is_quiet(sensor, feed, settings):
    settings.WARNING_FLAP_LIMIT = 2
    feed(15.0, 5.0, 15.0, 5.0)
    warning = Warning.objects.get(sensor=sensor)
    assert warning.is_flapping

    assert services.warnings_flapping_clear(now=timezone.now()) == 0  # the flips are within the hour
    assert services.warnings_flapping_clear(now=timezone.now() + timedelta(hours=2)) == 1

    warning.refresh_from_db()
    assert (warning.is_flapping, warning.flapping_since) == (False, None)


def test_a_flapping_warning_coming_back_does_not_reopen_its_reported_orders(sensor, feed, settings):
    from dispatch import services as dispatch_services
    from dispatch.models import WorkOrder, WorkOrderStatus
    from organisation.roles import DEPARTMENT_STAFF
    from tests.factories import DepartmentFactory, RoutingPolicyFactory, UserFactory

    settings.WARNING_FLAP_LIMIT = 2
    department = DepartmentFactory(code="gas-company")
    RoutingPolicyFactory(domain=sensor.sensor_type.domain, level=3, departments=[department])
    RoutingPolicyFactory(domain=sensor.sensor_type.domain, level=2, departments=[department])
    staff = UserFactory(username="crew", roles=[DEPARTMENT_STAFF], department=department)

    def handle_and_report():
        order = WorkOrder.objects.get()
        dispatch_services.work_order_acknowledge(work_order_id=order.pk, user=staff)
        dispatch_services.work_order_arrive(work_order_id=order.pk, user=staff)
        dispatch_services.work_order_report(work_order_id=order.pk, user=staff, report="Checked, valve tight.")

    feed(15.0, 5.0, 15.0, 5.0, 15.0)  # flips past the limit: marked flapping
    assert Warning.objects.get().is_flapping
    handle_and_report()  # the department handled what it was sent

    feed(5.0, 15.0, 5.0, 15.0)
    still = WorkOrder.objects.get().status
    feed(5.0, 25.0)  # back at a worse level: the department hears of it

    assert still == WorkOrderStatus.REPORTED
    order = WorkOrder.objects.get()
    assert (order.status, order.level) == (WorkOrderStatus.PENDING, 2)
