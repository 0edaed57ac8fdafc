"""Incidents: warnings on one asset's sensors, or close in place and time,
are one incident; its primary warning is routed, the others attach, and the
incident passes to the next open member when the primary leaves."""

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from dispatch.models import WorkOrder
from monitoring.models import Asset, AssetKind, Reading
from monitoring.services import readings_record_stored
from tests.factories import DepartmentFactory, RoutingPolicyFactory, SensorFactory, ThresholdRuleFactory, UserFactory
from warning import incidents, services
from warning.api.serializers import WarningSummaryRows, WarningSummarySerializer
from warning.models import Incident, Warning
from warning.selectors import warnings_with_details

pytestmark = pytest.mark.django_db

# About 50 m and 5 km east of the factories' default point, at Hefei's latitude.
NEAR = Point(117.2305, 31.82, srid=4326)
FAR = Point(117.28, 31.82, srid=4326)


@pytest.fixture
def rule():
    return ThresholdRuleFactory()


@pytest.fixture
def department(rule):
    department = DepartmentFactory()
    RoutingPolicyFactory(domain=rule.sensor_type.domain, level=3, departments=[department])
    return department


@pytest.fixture
def bridge():
    return Asset.objects.create(code="bridge-1", name="Nanfei River bridge", kind=AssetKind.BRIDGE)


def fire(sensor, value=60.0, *, minutes_ago=5):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    readings_record_stored(readings=[Reading.objects.create(sensor=sensor, observed_at=at, value=value)])
    services.sensor_evaluate(sensor_id=sensor.pk)
    return Warning.objects.get(sensor=sensor)


def test_warnings_on_sensors_of_one_asset_are_one_incident_routed_once(rule, department, bridge):
    strain, tilt, crack = (SensorFactory(sensor_type=rule.sensor_type, asset=bridge, location=FAR) for _ in range(3))

    first = fire(strain, minutes_ago=30)
    second = fire(tilt, minutes_ago=20)
    third = fire(crack, 15.0, minutes_ago=1)

    incident = Incident.objects.get()
    assert (incident.primary, incident.asset, incident.is_open) == (first, bridge, True)
    assert set(incident.members.all()) == {first, second, third}
    assert list(WorkOrder.objects.values_list("warning_id", flat=True)) == [first.pk]


def test_a_later_member_escalating_raises_the_primarys_order_and_routes_no_other(rule, department, bridge):
    a, b = (SensorFactory(sensor_type=rule.sensor_type, asset=bridge) for _ in range(2))
    primary = fire(a, 15.0, minutes_ago=10)
    member = fire(b, 15.0, minutes_ago=9)

    fire(b, 60.0, minutes_ago=8)

    member.refresh_from_db()
    assert member.level == 1
    assert WorkOrder.objects.filter(warning=member).count() == 0
    assert list(WorkOrder.objects.values_list("warning_id", "level")) == [(primary.pk, 1)]


def test_a_warning_on_its_own_is_no_incident(rule, department):
    warning = fire(SensorFactory(sensor_type=rule.sensor_type))

    assert warning.incident is None
    assert not Incident.objects.exists()
    assert WorkOrder.objects.filter(warning=warning).count() == 1


@pytest.mark.parametrize(
    ("location", "minutes_apart", "grouped"),
    [(NEAR, 5, True), (FAR, 5, False), (NEAR, 30, False)],
    ids=["near-and-soon", "far", "near-but-later"],
)
def test_warnings_close_in_place_and_time_group(rule, department, settings, location, minutes_apart, grouped):
    settings.WARNING_INCIDENT_DISTANCE_METRES = 200
    settings.WARNING_INCIDENT_WINDOW_SECONDS = 600
    first = fire(SensorFactory(sensor_type=rule.sensor_type), minutes_ago=40)
    second = fire(SensorFactory(sensor_type=rule.sensor_type, location=location), minutes_ago=40 - minutes_apart)

    assert (second.incident_id is not None) is grouped
    if grouped:
        assert second.incident.primary == first
    assert WorkOrder.objects.count() == (1 if grouped else 2)


def test_place_grouping_is_off_by_default(rule, department):
    fire(SensorFactory(sensor_type=rule.sensor_type), minutes_ago=10)
    second = fire(SensorFactory(sensor_type=rule.sensor_type), minutes_ago=9)  # same spot

    assert second.incident is None


def test_the_incident_closes_with_its_last_member(rule, bridge):
    a, b = (SensorFactory(sensor_type=rule.sensor_type, asset=bridge) for _ in range(2))
    first, second = fire(a, minutes_ago=10), fire(b, minutes_ago=9)
    fire(a, 1.0, minutes_ago=3)
    fire(b, 1.0, minutes_ago=2)
    officer = UserFactory(username="officer")

    services.warning_close(warning_id=first.pk, user=officer, note="Bolts tightened")
    assert Incident.objects.get().is_open
    services.warning_close(warning_id=second.pk, user=officer, note="Same work")

    incident = Incident.objects.get()
    assert not incident.is_open
    assert incident.closed_at is not None


def test_the_list_rows_carry_the_incident_alike_in_both_serializers(rule, bridge):
    a, b = (SensorFactory(sensor_type=rule.sensor_type, asset=bridge) for _ in range(2))
    first, second = fire(a, minutes_ago=10), fire(b, minutes_ago=9)
    rows = WarningSummaryRows()

    for warning in warnings_with_details().filter(pk__in=[first.pk, second.pk]):
        plain = rows.row(warning)
        assert plain == dict(WarningSummarySerializer(warning).data)
        assert plain["incident"] == {
            "id": second.incident_id,
            "primary": first.pk,
            "asset": "Nanfei River bridge",
            "handed_over_from": None,
            "handed_over_reason": None,
        }
        assert plain["is_flapping"] is False


def test_closing_the_primary_passes_the_incident_to_the_next_open_member(rule, department, bridge):
    a, b, c = (SensorFactory(sensor_type=rule.sensor_type, asset=bridge) for _ in range(3))
    first, second = fire(a, minutes_ago=10), fire(b, minutes_ago=9)
    fire(a, 1.0, minutes_ago=8)
    services.warning_close(warning_id=first.pk, user=UserFactory(username="officer"), note="Fixed")

    third = fire(c, minutes_ago=2)

    incident = Incident.objects.get()
    assert (incident.primary, incident.handed_over_from, incident.handed_over_reason) == (second, first, "closed")
    assert incident.is_open
    assert third.incident == incident
    # The new primary is routed; the later member rides on its orders.
    assert list(WorkOrder.objects.order_by("id").values_list("warning_id", flat=True)) == [first.pk, second.pk]


def test_a_member_leaving_twice_changes_nothing_the_second_time(rule, department, bridge):
    a, b = (SensorFactory(sensor_type=rule.sensor_type, asset=bridge) for _ in range(2))
    first, second = fire(a, minutes_ago=10), fire(b, minutes_ago=9)
    fire(a, 1.0, minutes_ago=8)
    services.warning_close(warning_id=first.pk, user=UserFactory(username="officer"), note="Fixed")
    before = Incident.objects.values().get()
    first.refresh_from_db()

    assert incidents.incident_member_left(first, reason="closed") is None
    incidents.incident_member_closed(first)

    assert Incident.objects.values().get() == before
    assert WorkOrder.objects.filter(warning=second).count() == 1


def test_a_primary_superseded_after_the_reactivation_window_passes_the_incident_on(rule, department, bridge, settings):
    settings.WARNING_REACTIVATION_WINDOW_SECONDS = 60
    a, b = (SensorFactory(sensor_type=rule.sensor_type, asset=bridge) for _ in range(2))
    first, second = fire(a, minutes_ago=30), fire(b, minutes_ago=29)
    fire(a, 1.0, minutes_ago=28)

    # Long after it recovered: a new warning, and the old one closes.
    at = timezone.now() - timedelta(minutes=5)
    readings_record_stored(readings=[Reading.objects.create(sensor=a, observed_at=at, value=60.0)])
    services.sensor_evaluate(sensor_id=a.pk)

    renewed = Warning.objects.exclude(pk=first.pk).get(sensor=a)
    incident = Incident.objects.get()
    assert (incident.primary, incident.handed_over_from) == (second, first)
    assert renewed.incident == incident
    assert WorkOrder.objects.filter(warning=second).count() == 1
    assert WorkOrder.objects.filter(warning=renewed).count() == 0


def test_the_admin_shows_the_last_hand_over(rule, department, bridge, client, admin_user):
    a, b = (SensorFactory(sensor_type=rule.sensor_type, asset=bridge) for _ in range(2))
    first, _second = fire(a, minutes_ago=10), fire(b, minutes_ago=9)
    services.warning_close(warning_id=first.pk, user=admin_user, note="Fixed", close_active=True)
    client.force_login(admin_user)

    page = client.get(f"/admin/warning/incident/{Incident.objects.get().pk}/change/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    assert "Handed over from" in page.text
    assert f"#{first.pk} " in page.text
