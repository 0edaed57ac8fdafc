"""研判: warnings wait for a duty officer's verdict before (or while) they are dispatched.

The gas domain of the ``city`` fixture routes Level III to the gas company,
Level II adds the housing bureau and the district government, Level I the
command office; thresholds 10 / 20 / 50.
"""

import threading
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client

from citysafety.errors import ConflictError, NotAllowedError
from dispatch.models import RoutingPolicy, VerificationMode, WorkOrder, WorkOrderEventKind, WorkOrderStatus
from dispatch.timeline import event_sentence
from organisation.roles import DUTY_OFFICER
from tests.factories import UserFactory
from warning import verification
from warning.models import (
    FalseAlarmReason,
    TransitionKind,
    VerificationStatus,
    Warning,
    WarningStatus,
)

pytestmark = pytest.mark.django_db


def set_modes(**modes: str) -> None:
    """Gas policies' verification per level: set_modes(l3=..., l2=..., l1=...)."""
    for key, mode in modes.items():
        RoutingPolicy.objects.filter(domain__code="gas", level=int(key[1])).update(verification=mode)


def departments(warning: Warning) -> set[str]:
    return set(WorkOrder.objects.filter(warning=warning).values_list("department__code", flat=True))


def confirm_url(warning: Warning) -> str:
    return f"/api/v1/warnings/{warning.pk}/confirm/"


def false_alarm_url(warning: Warning) -> str:
    return f"/api/v1/warnings/{warning.pk}/false-alarm/"


# --- When to route ----------------------------------------------------------------


def test_a_policy_that_dispatches_at_once_routes_without_verification(city, reach):
    warning = reach(city["gas_sensor"], 12)

    assert departments(warning) == {"gas-company"}
    assert warning.verification == VerificationStatus.NOT_ASKED
    assert not verification.unverified_warnings(UserFactory(roles=[DUTY_OFFICER])).exists()


def test_verify_first_holds_the_warning_in_the_queue_and_confirming_dispatches_it(city, reach, client, duty_officer):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12)
    assert warning.verification == VerificationStatus.PENDING
    assert warning.verification_requested_at is not None
    assert departments(warning) == set()
    client.force_login(duty_officer)
    queue = client.get("/api/v1/warnings/unverified/").json()
    assert [row["id"] for row in queue["results"]] == [warning.pk]
    assert queue["results"][0]["verification_display"] == "Awaiting verification"

    response = client.post(confirm_url(warning), {"note": "Smell reported by a resident too."}, "application/json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["verification"] == "confirmed"
    assert body["verified_by"] == "duty"
    assert body["transitions"][-1]["kind"] == "confirmed"
    assert body["transitions"][-1]["note"] == "Smell reported by a resident too."
    assert departments(warning) == {"gas-company"}
    assert client.get("/api/v1/warnings/unverified/").json()["results"] == []


def test_a_second_confirm_is_refused_saying_who_confirmed_and_when(city, reach, client, duty_officer):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12)
    client.force_login(duty_officer)
    assert client.post(confirm_url(warning)).status_code == 200
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    other.force_login(UserFactory(username="zhang", first_name="Wei", last_name="Zhang", roles=[DUTY_OFFICER]))

    again = other.post(confirm_url(warning))
    false = other.post(false_alarm_url(warning), {"reason": "sensor_fault"}, "application/json")

    warning.refresh_from_db()
    when = warning.verified_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    assert again.status_code == 409
    assert again.json() == {"detail": f"This warning was already confirmed by duty at {when}."}
    assert false.status_code == 409
    assert "already confirmed by duty" in false.json()["detail"]
    assert WorkOrder.objects.filter(warning=warning).count() == 1
    assert warning.transitions.filter(kind=TransitionKind.CONFIRMED).count() == 1


def test_a_verdict_on_a_warning_its_policy_dispatched_at_once_is_refused(city, reach, client, duty_officer):
    warning = reach(city["gas_sensor"], 12)
    client.force_login(duty_officer)

    response = client.post(confirm_url(warning))

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "This warning is not awaiting verification: its routing policy dispatches it at once."
    )


def test_an_escalation_while_waiting_keeps_the_warning_in_the_queue_at_its_new_level(city, reach, duty_officer):
    set_modes(l3=VerificationMode.VERIFY_FIRST, l2=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12)
    requested = warning.verification_requested_at

    warning = reach(city["gas_sensor"], 25)

    assert warning.level == 2
    assert warning.verification == VerificationStatus.PENDING
    assert warning.verification_requested_at == requested  # its age counts from when it first waited
    assert departments(warning) == set()
    assert list(verification.unverified_warnings(duty_officer).values_list("level", flat=True)) == [2]


def test_an_escalation_to_a_level_that_dispatches_in_parallel_sends_the_orders_and_still_awaits_a_verdict(
    city, reach, duty_officer
):
    set_modes(l3=VerificationMode.VERIFY_FIRST, l2=VerificationMode.VERIFY_FIRST, l1=VerificationMode.PARALLEL)
    reach(city["gas_sensor"], 25)

    warning = reach(city["gas_sensor"], 60)

    assert warning.level == 1
    assert departments(warning) == {"gas-company", "housing-bureau", "yaohai-government", "command-office"}
    assert warning.verification == VerificationStatus.PENDING
    assert verification.unverified_warnings(duty_officer).get() == warning


def test_a_warning_already_dispatched_is_not_held_back_when_it_escalates_to_a_verify_first_level(city, reach):
    set_modes(l2=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12)
    assert departments(warning) == {"gas-company"}

    warning = reach(city["gas_sensor"], 25)

    # Its department follows the escalation; the new level's departments too,
    # and the verdict is asked for alongside.
    assert WorkOrder.objects.get(warning=warning, department__code="gas-company").level == 2
    assert "housing-bureau" in departments(warning)
    assert warning.verification == VerificationStatus.PENDING


def test_confirming_dispatches_at_the_level_the_warning_has_reached(city, reach, duty_officer):
    set_modes(l3=VerificationMode.VERIFY_FIRST, l2=VerificationMode.VERIFY_FIRST)
    reach(city["gas_sensor"], 12)
    warning = reach(city["gas_sensor"], 25)

    verification.warning_confirm(warning_id=warning.pk, user=duty_officer)

    assert departments(warning) == {"gas-company", "housing-bureau", "yaohai-government"}
    assert set(WorkOrder.objects.filter(warning=warning).values_list("level", flat=True)) == {2}
    # Confirmed once: a later escalation routes as usual, without asking again.
    warning = reach(city["gas_sensor"], 60)
    assert "command-office" in departments(warning)
    assert warning.verification == VerificationStatus.CONFIRMED


# --- False alarms ---------------------------------------------------------------


def test_a_false_alarm_closes_the_warning_with_its_reason_as_a_transition(city, reach, client, duty_officer):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12)
    client.force_login(duty_officer)

    response = client.post(
        false_alarm_url(warning), {"reason": "maintenance", "note": "Valve work on Huizhou Road."}, "application/json"
    )

    assert response.status_code == 200, response.content
    warning.refresh_from_db()
    assert warning.status == WarningStatus.CLOSED
    assert warning.verification == VerificationStatus.FALSE_ALARM
    assert warning.false_alarm_reason == FalseAlarmReason.MAINTENANCE
    assert warning.closed_by == duty_officer
    assert warning.closed_while_active
    assert warning.disposal_note == "False alarm: Maintenance work. Valve work on Huizhou Road."
    last = warning.transitions.last()
    assert (last.kind, last.actor, last.note) == (
        TransitionKind.FALSE_ALARM,
        duty_officer,
        "Valve work on Huizhou Road.",
    )
    city["gas_sensor"].refresh_from_db()
    assert city["gas_sensor"].warning_level is None
    assert departments(warning) == set()
    assert response.json()["false_alarm_reason_display"] == "Maintenance work"


def test_the_next_reading_in_warning_after_a_false_alarm_opens_a_new_warning(city, reach, duty_officer):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    first = reach(city["gas_sensor"], 12)
    verification.warning_false_alarm(warning_id=first.pk, user=duty_officer, reason="sensor_fault")

    second = reach(city["gas_sensor"], 13)

    assert second.pk != first.pk
    assert second.verification == VerificationStatus.PENDING


def test_a_false_alarm_dispatched_in_parallel_stands_its_departments_down(city, reach, duty_officer):
    set_modes(l1=VerificationMode.PARALLEL)
    warning = reach(city["gas_sensor"], 60)
    assert len(departments(warning)) == 4

    verification.warning_false_alarm(warning_id=warning.pk, user=duty_officer, reason="threshold_too_tight")

    orders = WorkOrder.objects.filter(warning=warning)
    assert {order.status for order in orders} == {WorkOrderStatus.CLOSED}
    step = orders[0].events.last()
    assert step.kind == WorkOrderEventKind.CLOSED
    assert step.actor == duty_officer
    assert event_sentence(step.kind, step.data) == (
        "Stood down: the duty officer found the warning a false alarm (Threshold too tight)."
    )


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "reason", "This field is required."),
        ({"reason": "bored"}, "reason", '"bored" is not a valid choice.'),
        ({"reason": "other"}, "note", "Say what the false alarm was: the reason is “Other”."),
        ({"reason": "other", "note": "   "}, "note", "Say what the false alarm was: the reason is “Other”."),
        ({"reason": "sensor_fault", "note": "x" * 4001}, "note", "Ensure this field has no more than 4000 characters."),
    ],
)
def test_a_false_alarm_without_a_usable_reason_is_refused_on_its_field(
    city, reach, client, duty_officer, body, field, message
):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12)
    client.force_login(duty_officer)

    response = client.post(false_alarm_url(warning), body, "application/json")

    assert response.status_code == 400
    assert response.json() == {field: [message]}
    warning.refresh_from_db()
    assert warning.verification == VerificationStatus.PENDING


def test_a_verdict_on_a_closed_warning_is_refused(city, reach, duty_officer):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12)
    reach(city["gas_sensor"], 1)
    from dispatch.services import warning_close_with_work_orders

    warning_close_with_work_orders(warning_id=warning.pk, user=duty_officer, note="Checked on site.")

    with pytest.raises(ConflictError, match=r"This warning is already closed\."):
        verification.warning_confirm(warning_id=warning.pk, user=duty_officer)
    assert not verification.unverified_warnings(duty_officer).exists()


# --- Department isolation ---------------------------------------------------------


def test_department_staff_see_no_unverified_warning_and_may_give_no_verdict(city, reach, client, staff_a):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12)
    client.force_login(staff_a)

    assert client.get("/api/v1/warnings/unverified/").status_code == 403
    assert client.post(confirm_url(warning)).status_code == 403
    assert (
        client.post(false_alarm_url(warning), {"reason": "other", "note": "x"}, "application/json").status_code == 403
    )
    assert client.get("/api/v1/work-orders/").json()["results"] == []
    with pytest.raises(NotAllowedError, match=r"Only duty officers may verify a warning\."):
        verification.warning_confirm(warning_id=warning.pk, user=staff_a)
    warning.refresh_from_db()
    assert warning.verification == VerificationStatus.PENDING


def test_the_department_consumer_never_forwards_a_verification_push():
    from dispatch.consumers import LiveConsumer

    sent = []
    consumer = LiveConsumer()
    consumer.is_duty, consumer.department_id = False, 7
    consumer._rights_still_hold = lambda: True
    consumer.send_json = sent.append

    consumer.verification_changed({"type": "verification.changed", "payload": {"id": 1}})
    consumer.is_duty = True
    consumer.verification_changed({"type": "verification.changed", "payload": {"id": 2}})

    assert sent == [{"type": "verification.changed", "warning": {"id": 2}}]


# --- The race ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_confirms_dispatch_once_and_the_second_gets_409(city, reach, duty_officer):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12)
    second = UserFactory(username="li", roles=[DUTY_OFFICER])
    barrier = threading.Barrier(2)
    results: dict[str, tuple[int, dict]] = {}

    def confirm(user) -> None:
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)
        try:
            barrier.wait(timeout=10)
            response = client.post(confirm_url(warning))
            results[user.username] = (response.status_code, response.json())
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(user,)) for user in (duty_officer, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200, 409], results
    winner = next(name for name, (status, _) in results.items() if status == 200)
    loser_body = next(body for status, body in results.values() if status == 409)
    assert loser_body["detail"].startswith(f"This warning was already confirmed by {winner} at ")
    assert WorkOrder.objects.filter(warning=warning).count() == 1
    assert Warning.objects.get(pk=warning.pk).transitions.filter(kind=TransitionKind.CONFIRMED).count() == 1


# --- Learning from verdicts -------------------------------------------------------


def test_false_alarms_are_counted_per_rule_and_per_sensor(city, reach, duty_officer):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    for reason in ["sensor_fault", "sensor_fault", "maintenance"]:
        warning = reach(city["gas_sensor"], 12)
        verification.warning_false_alarm(warning_id=warning.pk, user=duty_officer, reason=reason)
    warning = reach(city["gas_sensor"], 12)
    verification.warning_confirm(warning_id=warning.pk, user=duty_officer)
    rule = warning.rule

    counts = verification.verdict_counts_by_rule([rule.pk])[rule.pk]
    noisy = verification.noisiest_sensors()

    assert (counts.verified, counts.false_alarms, counts.rate) == (4, 3, 0.75)
    assert len(noisy) == 1
    assert noisy[0]["code"] == "GAS-0001"
    assert (noisy[0]["false_alarms"], noisy[0]["verified"], noisy[0]["rate"]) == (3, 4, 0.75)
    assert noisy[0]["reasons"] == {"sensor_fault": 2, "maintenance": 1}


def test_admin_shows_the_false_alarm_rate_beside_each_rule_and_lists_the_noisiest_sensors(
    city, reach, client, admin_user
):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12)
    verification.warning_false_alarm(warning_id=warning.pk, user=admin_user, reason="sensor_fault")
    warning = reach(city["gas_sensor"], 12)
    verification.warning_confirm(warning_id=warning.pk, user=admin_user)
    client.force_login(admin_user)

    rules = client.get("/admin/warning/thresholdrule/").content.decode()
    noisy = client.get("/admin/warning/thresholdrule/noisy-sensors/").content.decode()

    assert "50% (1 of 2 verified)" in rules
    assert "noisy-sensors-link" in rules
    assert 'data-sensor="GAS-0001"' in noisy
    assert "Sensor fault: 1" in noisy


def test_the_noisy_sensors_page_says_when_there_is_no_false_alarm(client, admin_user, staff_a):
    client.force_login(admin_user)
    assert (
        "No warning has been closed as a false alarm yet."
        in client.get("/admin/warning/thresholdrule/noisy-sensors/").content.decode()
    )
    client.force_login(staff_a)
    assert client.get("/admin/warning/thresholdrule/noisy-sensors/").status_code == 302  # to the admin's login


# --- The list's rows --------------------------------------------------------------


def test_the_queue_rows_in_plain_code_equal_the_serializer_field_for_field(city, reach, duty_officer):
    from warning.api.serializers import UnverifiedWarningSerializer

    set_modes(l3=VerificationMode.VERIFY_FIRST)
    reach(city["gas_sensor"], 12)
    water = city["water_sensor"]
    RoutingPolicy.objects.filter(domain__code="water_supply").update(verification=VerificationMode.VERIFY_FIRST)
    reach(water, 0.19)
    warnings = list(verification.unverified_warnings(duty_officer).select_related("verified_by"))
    assert len(warnings) == 2

    many = UnverifiedWarningSerializer(warnings, many=True).data
    one_by_one = [UnverifiedWarningSerializer(warning).data for warning in warnings]

    assert [dict(row) for row in many] == [dict(row) for row in one_by_one]


# --- Configuring it ---------------------------------------------------------------


def test_an_administrator_sets_a_policys_verification_in_admin(city, client, admin_user):
    from dispatch.models import RoutingPolicy

    policy = RoutingPolicy.objects.get(domain__code="gas", level=1)
    client.force_login(admin_user)
    page = client.get(f"/admin/dispatch/routingpolicy/{policy.pk}/change/").content.decode()
    assert "Dispatch at once and verify in parallel" in page

    response = client.post(
        f"/admin/dispatch/routingpolicy/{policy.pk}/change/",
        {
            "domain": policy.domain_id,
            "level": "1",
            "ack_deadline_minutes": "15",
            "arrive_deadline_minutes": "60",
            "report_deadline_minutes": "240",
            "verification": VerificationMode.PARALLEL,
            "departments": [city["command"].pk],
        },
    )
    unknown = client.post(
        f"/admin/dispatch/routingpolicy/{policy.pk}/change/",
        {"domain": policy.domain_id, "level": "1", "ack_deadline_minutes": "15", "verification": "later"},
    )

    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.verification == VerificationMode.PARALLEL
    assert "Select a valid choice. later is not one of the available choices." in unknown.content.decode()
    listing = client.get("/admin/dispatch/routingpolicy/").content.decode()
    assert "Dispatch at once and verify in parallel" in listing


def test_the_warning_admin_shows_the_verdict(city, reach, client, admin_user):
    set_modes(l3=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12)
    verification.warning_false_alarm(warning_id=warning.pk, user=admin_user, reason="threshold_too_tight")
    client.force_login(admin_user)

    page = client.get(f"/admin/warning/warning/{warning.pk}/change/").content.decode()
    filtered = client.get("/admin/warning/warning/?verification=false_alarm").content.decode()

    assert "Threshold too tight" in page
    assert f"/admin/warning/warning/{warning.pk}/change/" in filtered
