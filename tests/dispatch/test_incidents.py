"""An incident's work orders follow its members: passed on when the primary
leaves, raised when a member gets worse than the primary.

The gas domain of the ``city`` fixture routes Level III to the gas company,
Level II adds the housing bureau and the district government, Level I the
command office; thresholds 10 / 20 / 50. Three gas sensors sit on one pipe
segment, so their warnings are one incident.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from dispatch import services
from dispatch.models import RoutingPolicy, VerificationMode, WorkOrder, WorkOrderEventKind, WorkOrderStatus
from monitoring.models import Asset, AssetKind, Reading
from monitoring.services import readings_ingest, readings_record_stored
from tests.factories import GatewayFactory, SensorFactory
from tests.live import wait_for
from warning import services as warning_services
from warning import verification
from warning.events import warning_changed
from warning.models import FalseAlarmReason, Incident, TransitionKind, VerificationStatus, Warning, WarningStatus

EVERY_LEVEL = {"gas-company", "housing-bureau", "yaohai-government", "command-office"}


@pytest.fixture
def pipe(city, department_a):
    """The city's gas sensor and two more on the same pipe segment, all reporting through one gateway."""
    segment = Asset.objects.create(code="pipe-7", name="Pipe segment 7", kind=AssetKind.PIPE_SEGMENT)
    gateway = GatewayFactory()
    first = city["gas_sensor"]
    first.asset, first.gateway = segment, gateway
    first.save(update_fields=["asset", "gateway"])
    others = [
        SensorFactory(
            sensor_type=first.sensor_type,
            district=first.district,
            owner_department=department_a,
            asset=segment,
            gateway=gateway,
        )
        for _ in range(2)
    ]
    return [first, *others]


def set_modes(**modes: str) -> None:
    """Gas policies' verification per level: set_modes(l3=..., l2=..., l1=...)."""
    for key, mode in modes.items():
        RoutingPolicy.objects.filter(domain__code="gas", level=int(key[1])).update(verification=mode)


def orders(warning: Warning) -> dict[str, tuple[int, str]]:
    """Department code: (level, status) of the warning's orders."""
    return {
        code: (level, status)
        for code, level, status in WorkOrder.objects.filter(warning=warning).values_list(
            "department__code", "level", "status"
        )
    }


def the_incident() -> Incident:
    return Incident.objects.get()


def reach_together(readings: dict, *, minutes_ago: int = 1) -> None:
    """Store one reading per sensor and evaluate them in one chunk, as a drain would."""
    at = timezone.now() - timedelta(minutes=minutes_ago)
    readings_record_stored(
        readings=[
            Reading.objects.create(sensor=sensor, observed_at=at, value=value) for sensor, value in readings.items()
        ]
    )
    warning_services.sensors_evaluate(sensor_ids=[sensor.pk for sensor in readings])


# --- A member escalating past the primary ------------------------------------------


@pytest.mark.django_db
def test_a_member_escalating_past_the_primary_raises_the_incidents_orders(pipe, reach):
    primary = reach(pipe[0], 12.0)  # Level III
    member = reach(pipe[1], 12.0)
    assert orders(primary) == {"gas-company": (3, WorkOrderStatus.PENDING)}

    reach(pipe[1], 60.0)  # the member reaches Level I

    assert orders(primary) == dict.fromkeys(EVERY_LEVEL, (1, WorkOrderStatus.PENDING))
    assert orders(member) == {}
    gas_company = WorkOrder.objects.get(warning=primary, department__code="gas-company")
    assert gas_company.events.filter(kind=WorkOrderEventKind.ESCALATED, data__level=1).exists()


@pytest.mark.django_db
def test_a_member_at_a_level_already_covered_changes_nothing(pipe, reach):
    primary = reach(pipe[0], 25.0)  # Level II
    reach(pipe[1], 12.0)
    before = orders(primary)

    reach(pipe[1], 22.0)  # the member escalates to Level II: the orders are there already

    assert orders(primary) == before == dict.fromkeys(EVERY_LEVEL - {"command-office"}, (2, WorkOrderStatus.PENDING))
    assert WorkOrder.objects.count() == 3


@pytest.mark.django_db
def test_a_member_opening_worse_than_the_primary_raises_the_orders(pipe, reach):
    primary = reach(pipe[0], 12.0)

    member = reach(pipe[1], 25.0)

    assert member.incident.primary == primary
    assert orders(primary) == dict.fromkeys(EVERY_LEVEL - {"command-office"}, (2, WorkOrderStatus.PENDING))
    assert orders(member) == {}


@pytest.mark.django_db
def test_two_members_escalating_in_one_chunk_raise_one_set_of_orders(pipe, reach):
    primary = reach(pipe[0], 12.0)
    reach(pipe[1], 12.0)
    reach(pipe[2], 12.0)

    reach_together({pipe[1]: 25.0, pipe[2]: 60.0})

    assert orders(primary) == dict.fromkeys(EVERY_LEVEL, (1, WorkOrderStatus.PENDING))
    assert WorkOrder.objects.count() == 4


@pytest.mark.django_db
def test_a_raised_order_its_department_had_reported_goes_back_to_it(pipe, reach, staff_a, duty_officer):
    primary = reach(pipe[0], 12.0)
    reach(pipe[1], 12.0)
    order = WorkOrder.objects.get(warning=primary)
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Valve closed.")

    reach(pipe[1], 60.0)

    order.refresh_from_db()
    assert (order.level, order.status) == (1, WorkOrderStatus.PENDING)


@pytest.mark.django_db
def test_a_replayed_batch_changes_nothing(pipe, reach):
    primary = reach(pipe[0], 12.0)
    reach(pipe[1], 12.0)
    at = (timezone.now() - timedelta(seconds=30)).isoformat()
    batch = [
        {"sensor": pipe[1].code, "observed_at": at, "value": 60.0},
        {"sensor": pipe[2].code, "observed_at": at, "value": 25.0},
    ]
    readings_ingest(gateway=pipe[0].gateway, batch=batch)
    warning_services.sensors_evaluate(sensor_ids=[sensor.pk for sensor in pipe])
    before = (orders(primary), WorkOrder.objects.count(), list(WorkOrderEvent_rows()))

    result = readings_ingest(gateway=pipe[0].gateway, batch=batch)
    warning_services.sensors_evaluate(sensor_ids=[sensor.pk for sensor in pipe])

    assert (result.accepted, result.duplicates) == (0, 2)
    assert (orders(primary), WorkOrder.objects.count(), list(WorkOrderEvent_rows())) == before
    assert before[0] == dict.fromkeys(EVERY_LEVEL, (1, WorkOrderStatus.PENDING))


def WorkOrderEvent_rows():  # noqa: N802 - reads as the table it lists
    from dispatch.models import WorkOrderEvent

    return WorkOrderEvent.objects.order_by("id").values_list("work_order_id", "kind", "data")


# --- The primary leaving: the incident passes on ----------------------------------


@pytest.mark.django_db
def test_a_false_alarm_primary_passes_the_incident_to_the_next_member_which_is_routed(pipe, reach, duty_officer):
    set_modes(l3=VerificationMode.PARALLEL, l2=VerificationMode.PARALLEL)
    primary = reach(pipe[0], 12.0)
    member = reach(pipe[1], 25.0)  # Level II, raising the primary's orders
    later = reach(pipe[2], 12.0)
    assert set(orders(primary)) == EVERY_LEVEL - {"command-office"}

    verification.warning_false_alarm(
        warning_id=primary.pk, user=duty_officer, reason=FalseAlarmReason.SENSOR_FAULT, note="Probe iced over"
    )

    incident = the_incident()
    assert (incident.primary, incident.handed_over_from, incident.handed_over_reason) == (
        member,
        primary,
        TransitionKind.FALSE_ALARM,
    )
    assert incident.handed_over_at is not None
    assert incident.is_open
    # The primary's orders are stood down; the member's go out at its level, and it awaits its own verdict.
    assert {status for _level, status in orders(primary).values()} == {WorkOrderStatus.CLOSED}
    assert orders(member) == dict.fromkeys(EVERY_LEVEL - {"command-office"}, (2, WorkOrderStatus.PENDING))
    assert orders(later) == {}
    member.refresh_from_db()
    assert member.verification == VerificationStatus.PENDING


@pytest.mark.django_db
def test_a_hand_over_to_a_member_whose_policy_verifies_first_waits_for_its_verdict(pipe, reach, duty_officer):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    primary = reach(pipe[0], 12.0)
    member = reach(pipe[1], 12.0)
    assert WorkOrder.objects.count() == 0  # the primary waits for its verdict

    verification.warning_false_alarm(warning_id=primary.pk, user=duty_officer, reason=FalseAlarmReason.SENSOR_FAULT)

    member.refresh_from_db()
    assert the_incident().primary == member
    assert member.verification == VerificationStatus.PENDING
    assert WorkOrder.objects.count() == 0

    verification.warning_confirm(warning_id=member.pk, user=duty_officer)

    assert orders(member) == {"gas-company": (3, WorkOrderStatus.PENDING)}


@pytest.mark.django_db
def test_a_closed_primary_passes_the_incident_on_and_the_active_member_is_routed(pipe, reach, staff_a, duty_officer):
    primary = reach(pipe[0], 12.0)
    member = reach(pipe[1], 12.0)
    reach(pipe[0], 1.0)  # the primary recovers; its department handles it
    order = WorkOrder.objects.get(warning=primary)
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Valve closed.")
    services.work_order_verify(work_order_id=order.pk, user=duty_officer, accept=True)

    services.warning_close_with_work_orders(warning_id=primary.pk, user=duty_officer, note="Valve replaced")

    incident = the_incident()
    assert (incident.primary, incident.handed_over_from, incident.handed_over_reason) == (
        member,
        primary,
        TransitionKind.CLOSED,
    )
    assert orders(primary) == {"gas-company": (3, WorkOrderStatus.CLOSED)}
    assert orders(member) == {"gas-company": (3, WorkOrderStatus.PENDING)}


@pytest.mark.django_db
def test_a_member_leaving_that_is_not_the_primary_passes_nothing_on(pipe, reach, duty_officer):
    primary = reach(pipe[0], 12.0)
    member = reach(pipe[1], 12.0)
    reach(pipe[1], 1.0)

    warning_services.warning_close(warning_id=member.pk, user=duty_officer, note="Same work")

    incident = the_incident()
    assert (incident.primary, incident.handed_over_from, incident.handed_over_reason) == (primary, None, "")
    assert WorkOrder.objects.count() == 1


@pytest.mark.django_db
def test_the_last_member_ruled_a_false_alarm_closes_the_incident(pipe, reach, duty_officer):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    primary = reach(pipe[0], 12.0)
    member = reach(pipe[1], 12.0)

    verification.warning_false_alarm(warning_id=primary.pk, user=duty_officer, reason=FalseAlarmReason.MAINTENANCE)
    verification.warning_false_alarm(warning_id=member.pk, user=duty_officer, reason=FalseAlarmReason.MAINTENANCE)

    incident = the_incident()
    assert not incident.is_open
    assert incident.primary == member
    assert WorkOrder.objects.count() == 0


@pytest.mark.django_db
def test_the_hand_over_is_shown_with_the_incident(pipe, reach, duty_officer, client):
    primary = reach(pipe[0], 12.0)
    member = reach(pipe[1], 12.0)
    set_modes(l3=VerificationMode.PARALLEL)
    Warning.objects.filter(pk=primary.pk).update(verification=VerificationStatus.PENDING)

    verification.warning_false_alarm(warning_id=primary.pk, user=duty_officer, reason=FalseAlarmReason.SENSOR_FAULT)

    client.force_login(duty_officer)
    body = client.get(f"/api/v1/warnings/{member.pk}/").json()
    assert body["incident"]["primary"] == member.pk
    assert (body["incident"]["handed_over_from"], body["incident"]["handed_over_reason"]) == (
        primary.pk,
        "false_alarm",
    )


# --- Two workers at once ------------------------------------------------------------


@pytest.fixture
def only_these_evaluators():
    """Stored readings are not queued for the session's Celery worker: the test's threads evaluate them."""
    from monitoring.events import readings_stored
    from warning.receivers import enqueue_evaluation

    readings_stored.disconnect(dispatch_uid="warning.enqueue_evaluation")
    yield
    readings_stored.connect(enqueue_evaluation, dispatch_uid="warning.enqueue_evaluation")


@pytest.mark.django_db(transaction=True)
def test_two_workers_escalating_members_at_once_route_one_set_of_orders(pipe, reach, only_these_evaluators):
    primary = reach(pipe[0], 12.0)
    reach(pipe[1], 12.0)
    reach(pipe[2], 12.0)
    at = timezone.now() - timedelta(seconds=30)
    for sensor in pipe[1:]:
        readings_record_stored(readings=[Reading.objects.create(sensor=sensor, observed_at=at, value=60.0)])
    first_routed, let_go = threading.Event(), threading.Event()
    errors = []

    def hold_first(sender, *, warning, transition, **kwargs):
        # The first worker keeps its transaction open once it has routed, so the second runs meanwhile.
        if warning.sensor_id == pipe[1].pk and transition.kind == TransitionKind.ESCALATED:
            first_routed.set()
            let_go.wait(20)

    def evaluate(sensor):
        try:
            warning_services.sensor_evaluate(sensor_id=sensor.pk)
        except Exception as error:  # reported by the test below
            errors.append(error)
        finally:
            connection.close()

    warning_changed.connect(hold_first, dispatch_uid="test.hold_first")
    try:
        first = threading.Thread(target=evaluate, args=(pipe[1],))
        first.start()
        assert first_routed.wait(20)
        second = threading.Thread(target=evaluate, args=(pipe[2],))
        second.start()
        # The second worker waits for the first's locks (the primary's row, then the incident's).
        wait_for(_waiting_for_a_lock, timeout=20, what="the second worker to wait for a lock")
        let_go.set()
        first.join(20)
        second.join(20)
    finally:
        let_go.set()
        warning_changed.disconnect(dispatch_uid="test.hold_first")

    assert errors == []
    assert orders(primary) == dict.fromkeys(EVERY_LEVEL, (1, WorkOrderStatus.PENDING))
    assert Warning.objects.filter(status=WarningStatus.ACTIVE, level=1).count() == 2


def _waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db
def test_the_level_one_news_of_an_incident_quotes_the_member_that_raised_it(pipe, reach_and_announce, on_duty):
    from notifications.models import Notification, NotificationKind

    primary = reach_and_announce(pipe[0], 12.0)  # Level III: the gas company only
    reach_and_announce(pipe[1], 12.0)
    assert not Notification.objects.filter(kind=NotificationKind.LEVEL_ONE_WARNING).exists()

    reach_and_announce(pipe[1], 60.0)  # the member reaches Level I

    (news,) = Notification.objects.filter(kind=NotificationKind.LEVEL_ONE_WARNING)
    assert news.recipient.username == "chief"
    assert news.key == f"warning:{primary.pk}:level1"  # once for the event
    assert (news.data["sensor"], news.data["value"]) == (pipe[1].name, f"60 {pipe[1].sensor_type.unit}".strip())
