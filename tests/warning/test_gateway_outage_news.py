"""A gateway outage reaches people: pushed to the duty officers' map after commit, told to the city centre on duty."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch.models import WorkOrder
from notifications.messages import notification_text
from notifications.models import Notification, NotificationKind
from organisation.models import DutyShift
from organisation.roles import DUTY_OFFICER
from tests.factories import GatewayFactory, SensorFactory, SensorTypeFactory, ThresholdRuleFactory, UserFactory
from tests.warning.test_no_data import NO_DATA
from warning.models import GatewayOutage, Silence, WarningStatus
from warning.no_data import sensors_warn_silent

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushes(monkeypatch) -> list[tuple[list[str], str, dict]]:
    sent = []
    monkeypatch.setattr("citysafety.realtime.send", lambda groups, kind, payload: sent.append((groups, kind, payload)))
    return sent


@pytest.fixture
def down():
    """A gateway silent for half an hour, with three sensors silent as long under a ten-minute no-data rule."""
    sensor_type = SensorTypeFactory()
    ThresholdRuleFactory(sensor_type=sensor_type, **NO_DATA)
    gateway = GatewayFactory(code="GW-NORTH", name="North station")
    silent_since = timezone.now() - timedelta(minutes=30)
    type(gateway).objects.filter(pk=gateway.pk).update(last_seen_at=silent_since)
    for _ in range(3):
        SensorFactory(sensor_type=sensor_type, gateway=gateway, latest_value=1.0, latest_observed_at=silent_since)
    gateway.sensor_type = sensor_type
    return gateway


@pytest.fixture
def centre_on_duty():
    """The city centre's roster of today (and the days around it, for a test run at midnight)."""
    person = UserFactory(username="officer", roles=[DUTY_OFFICER])
    chief = UserFactory(username="chief", roles=[DUTY_OFFICER])
    for offset in (-1, 0, 1):
        DutyShift.objects.create(
            department=None,
            date=timezone.localdate() + timedelta(days=offset),
            person_on_duty=person,
            leader_on_duty=chief,
        )
    return person


def hear(gateway) -> None:
    type(gateway).objects.filter(pk=gateway.pk).update(last_seen_at=timezone.now())


def outage_pushes(pushes) -> list[list[tuple[str, str, int]]]:
    """Each push of the outage channel as (gateway, status, silent sensors) rows."""
    return [
        [(row["gateway_code"], row["status"], row["silent_sensors"]) for row in payload["outages"]]
        for groups, kind, payload in pushes
        if kind == "gateway_outage.changed" and groups == ["duty"]
    ]


def test_an_outage_opening_growing_and_ending_is_pushed_once_a_sweep_after_commit(
    down, pushes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        sensors_warn_silent()
    # Nothing leaves while the sweep's transaction is open.
    assert outage_pushes(pushes) == []
    for callback in callbacks:
        callback()
    assert outage_pushes(pushes) == [[("GW-NORTH", "active", 3)]]

    # A quiet sweep pushes nothing; one more sensor gone silent pushes the new count.
    with django_capture_on_commit_callbacks(execute=True):
        sensors_warn_silent()
    assert len(outage_pushes(pushes)) == 1
    SensorFactory(
        sensor_type=down.sensor_type,
        gateway=down,
        latest_value=1.0,
        latest_observed_at=timezone.now() - timedelta(minutes=20),
    )
    with django_capture_on_commit_callbacks(execute=True):
        sensors_warn_silent()
    assert outage_pushes(pushes)[-1] == [("GW-NORTH", "active", 4)]

    hear(down)
    with django_capture_on_commit_callbacks(execute=True):
        sensors_warn_silent()
    assert outage_pushes(pushes)[-1] == [("GW-NORTH", "recovered", 4)]
    assert len(outage_pushes(pushes)) == 3


def test_many_gateways_going_silent_make_one_message(down, pushes, django_capture_on_commit_callbacks):
    other = GatewayFactory(code="GW-SOUTH")
    type(other).objects.filter(pk=other.pk).update(last_seen_at=timezone.now() - timedelta(minutes=30))
    SensorFactory(
        sensor_type=down.sensor_type,
        gateway=other,
        latest_value=1.0,
        latest_observed_at=timezone.now() - timedelta(minutes=30),
    )
    with django_capture_on_commit_callbacks(execute=True):
        sensors_warn_silent()
    assert [sorted(push) for push in outage_pushes(pushes)] == [[("GW-NORTH", "active", 3), ("GW-SOUTH", "active", 1)]]


def test_the_city_centres_person_on_duty_is_told_once_of_the_silence_and_once_of_the_return(
    down, centre_on_duty, pushes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sensors_warn_silent()
        sensors_warn_silent()
    told = Notification.objects.get()
    assert (told.recipient, told.kind, told.level, told.department_id) == (
        centre_on_duty,
        NotificationKind.GATEWAY_SILENT,
        2,
        None,
    )
    outage = GatewayOutage.objects.get()
    assert told.key == f"outage:{outage.pk}:silent"
    assert notification_text(told.kind, told.data) == (
        "Gateway GW-NORTH (North station) has gone silent (Level II): 3 sensors send no data. "
        "Their no-data warnings are folded into this one outage; no work orders are made for it."
    )

    hear(down)
    with django_capture_on_commit_callbacks(execute=True):
        sensors_warn_silent()
        sensors_warn_silent()
    assert GatewayOutage.objects.get().status == WarningStatus.RECOVERED
    back = Notification.objects.get(kind=NotificationKind.GATEWAY_HEARD)
    assert back.recipient == centre_on_duty
    assert back.data["minutes"] == 30
    assert "is heard again after 30 minutes of silence" in notification_text(back.kind, back.data)
    assert Notification.objects.count() == 2


def test_with_no_roster_every_duty_officer_is_told_and_no_work_order_is_made(down, duty_officer, staff_a):
    sensors_warn_silent()
    assert [n.recipient.username for n in Notification.objects.all()] == ["duty"]
    # A gateway down is not a department's work: nothing routes it.
    assert not WorkOrder.objects.exists()


def test_a_gateway_under_maintenance_tells_nobody_and_pushes_nothing(down, duty_officer, pushes):
    Silence.objects.create(
        gateway=down,
        starts_at=timezone.now() - timedelta(hours=1),
        ends_at=timezone.now() + timedelta(hours=1),
        reason="Firmware upgrade",
        created_by=duty_officer,
    )
    sensors_warn_silent()
    assert not GatewayOutage.objects.exists()
    assert not Notification.objects.exists()
    assert outage_pushes(pushes) == []


def test_an_outage_getting_worse_is_told_again_once_for_each_level_reached(
    down, centre_on_duty, pushes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sensors_warn_silent()
    # A sensor under a stricter no-data rule (Level I) falls silent behind the same gateway.
    stricter = SensorTypeFactory()
    ThresholdRuleFactory(sensor_type=stricter, **{**NO_DATA, "no_data_level": 1})
    SensorFactory(
        sensor_type=stricter, gateway=down, latest_value=1.0, latest_observed_at=timezone.now() - timedelta(minutes=20)
    )
    with django_capture_on_commit_callbacks(execute=True):
        sensors_warn_silent()
        sensors_warn_silent()

    outage = GatewayOutage.objects.get()
    assert (outage.level, outage.silent_sensors) == (1, 4)
    assert sorted(Notification.objects.values_list("key", "level")) == [
        (f"outage:{outage.pk}:level1", 1),
        (f"outage:{outage.pk}:silent", 2),
    ]
    worse = Notification.objects.get(key=f"outage:{outage.pk}:level1")
    assert (worse.recipient, worse.data["sensors"]) == (centre_on_duty, 4)
