"""Closing a warning from the API: an active warning only by an explicit
choice with a reason, recorded as such; what the warning and its orders
then show."""

import pytest

from citysafety.errors import InvalidInputError
from dispatch import services
from dispatch.models import WorkOrder, WorkOrderEventKind, WorkOrderStatus
from warning.models import TransitionKind, Warning, WarningStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def reported_level_iii(city, reach, staff_a, duty_officer):
    """A Level III gas warning, still active, whose one order is reported and verified."""
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Valve closed.")
    services.work_order_verify(work_order_id=order.pk, user=duty_officer, accept=True)
    return warning


def close(client, warning, **body):
    return client.post(f"/api/v1/warnings/{warning.pk}/close/", body, content_type="application/json")


def test_closing_an_active_warning_without_the_explicit_choice_is_refused(client, reported_level_iii, duty_officer):
    client.force_login(duty_officer)

    refused = close(client, reported_level_iii, note="Looks fine.")

    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "still reads 12, at Level III (yellow)" in detail
    assert "confirm that you close an active warning and give the reason" in detail
    assert Warning.objects.get(pk=reported_level_iii.pk).status == WarningStatus.ACTIVE


def test_closing_an_active_warning_needs_a_reason(reported_level_iii, duty_officer):
    with pytest.raises(InvalidInputError, match="Give the reason for closing a warning whose sensor is still in"):
        services.warning_close_with_work_orders(
            warning_id=reported_level_iii.pk, user=duty_officer, note="  ", close_active=True
        )
    assert Warning.objects.get(pk=reported_level_iii.pk).status == WarningStatus.ACTIVE


def test_an_active_warning_closed_by_choice_is_recorded_as_such(client, reported_level_iii, duty_officer):
    client.force_login(duty_officer)

    closed = close(client, reported_level_iii, note="Sensor faulty; crew on site confirms no gas.", close_active=True)

    assert closed.status_code == 200
    body = closed.json()
    assert body["status"] == "closed"
    assert body["closed_while_active"] is True
    assert body["transitions"][-1]["kind"] == TransitionKind.CLOSED
    assert body["transitions"][-1]["note"] == "Sensor faulty; crew on site confirms no gas."
    order = WorkOrder.objects.get(warning=reported_level_iii)
    assert order.status == WorkOrderStatus.CLOSED
    step = order.events.get(kind=WorkOrderEventKind.CLOSED)
    assert step.data == {"closed_while_active": True}
    events = client.get(f"/api/v1/work-orders/{order.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()["events"]
    assert events[-1]["summary"] == "Closed while the sensor was still in warning."


def test_a_recovered_warning_closes_without_the_choice_and_is_not_marked(
    client, city, reach, reported_level_iii, duty_officer
):
    reach(city["gas_sensor"], 1.0)
    client.force_login(duty_officer)

    closed = close(client, reported_level_iii, note="Leak repaired.")

    assert closed.status_code == 200
    assert closed.json()["closed_while_active"] is False
    order = WorkOrder.objects.get(warning=reported_level_iii)
    assert order.events.get(kind=WorkOrderEventKind.CLOSED).data == {}


def test_unreported_orders_still_come_first(client, city, reach, duty_officer):
    warning = reach(city["gas_sensor"], 12.0)
    client.force_login(duty_officer)

    refused = close(client, warning, note="Done.", close_active=True)

    assert refused.status_code == 409
    assert "still waiting for: Gas company" in refused.json()["detail"]
