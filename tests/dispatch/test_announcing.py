"""Routing tells nobody inside the evaluation: one task per transaction announces what it routed, after
the warning has gone out to the duty officers; told once, however often or late the task runs."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from citysafety import realtime
from dispatch import escalation, services, tasks
from dispatch.models import WorkOrder
from monitoring.models import Reading
from monitoring.services import readings_record_stored
from notifications.models import Notification, NotificationKind, WebhookDelivery, WebhookEndpoint
from tests.dispatch.test_escalation import told
from warning import services as warning_services
from warning.models import Warning

pytestmark = pytest.mark.django_db

# Evaluating one sensor whose reading opens a Level I warning routed to four
# departments (the gas company, the housing bureau, the district government,
# the command office): 27 queries when this was pinned, of which about 13 any
# chunk makes; 77 when routing told everybody inside the transaction, one
# order, one roster look-up and one notification at a time.
EVALUATION_QUERIES = 27
# What the task then does for them, whatever their number (two of them the
# savepoint of its transaction).
ANNOUNCEMENT_QUERIES = 13


def store(sensor, value, *, minutes_ago=30):
    readings_record_stored(
        readings=[
            Reading.objects.create(
                sensor=sensor, observed_at=timezone.now() - timedelta(minutes=minutes_ago), value=value
            )
        ]
    )


@pytest.fixture
def spied(monkeypatch):
    """What goes out after the commit, in order: the pushes by type, and the announcements."""
    seen = []
    send_many, announce = realtime.send_many, escalation.work_orders_announce

    def spy_send(messages):
        messages = list(messages)
        seen.extend((event_type, payload.get("id")) for _groups, event_type, payload in messages)
        send_many(messages)

    def spy_announce(**kwargs):
        seen.append(("announce", tuple(sorted(kwargs["work_order_ids"])), tuple(kwargs["level_one_warning_ids"])))
        return announce(**kwargs)

    monkeypatch.setattr(realtime, "send_many", spy_send)
    monkeypatch.setattr(escalation, "work_orders_announce", spy_announce)
    return seen


def test_routing_tells_nobody_before_the_commit_and_the_warning_goes_out_first(
    city, on_duty, django_capture_on_commit_callbacks, tasks_in_process, spied
):
    store(city["gas_sensor"], 80.0)
    with django_capture_on_commit_callbacks() as callbacks:
        warning_services.sensor_evaluate(sensor_id=city["gas_sensor"].pk)
    warning = Warning.objects.get(sensor=city["gas_sensor"])
    orders = tuple(sorted(WorkOrder.objects.filter(warning=warning).values_list("pk", flat=True)))

    assert len(orders) == 4
    assert not Notification.objects.exists()  # routed, nobody told yet: that waits for the commit

    for callback in callbacks:
        callback()

    assert spied[0] == ("warning.changed", warning.pk)
    assert spied.count(("announce", orders, (warning.pk,))) == 1
    assert [kind for kind, *_ in spied if kind == "announce"] == ["announce"]
    assert told(NotificationKind.WORK_ORDER_DISPATCHED) == ["alice"]
    assert told(NotificationKind.LEVEL_ONE_WARNING) == ["chief"]


def test_one_task_announces_everything_one_transaction_routed(
    city, on_duty, django_capture_on_commit_callbacks, tasks_in_process, spied
):
    store(city["gas_sensor"], 12.0)
    store(city["water_sensor"], 0.05)
    with django_capture_on_commit_callbacks(execute=True):
        warning_services.sensors_evaluate(sensor_ids=[city["gas_sensor"].pk, city["water_sensor"].pk])

    orders = tuple(sorted(WorkOrder.objects.values_list("pk", flat=True)))
    water = Warning.objects.get(sensor=city["water_sensor"])
    assert len(orders) == 2
    assert [entry for entry in spied if entry[0] == "announce"] == [("announce", orders, (water.pk,))]
    # Both warnings were pushed before it.
    assert set(spied[:2]) == {("warning.changed", w.pk) for w in Warning.objects.all()}


def test_a_retried_announcement_tells_nobody_twice(city, reach, on_duty, department_a):
    WebhookEndpoint.objects.create(department=department_a, url="http://127.0.0.1:1/hook")
    warning = reach(city["gas_sensor"], 80.0)
    order_ids = list(WorkOrder.objects.filter(warning=warning).values_list("pk", flat=True))

    first = tasks.announce_work_orders(order_ids, [warning.pk])
    again = tasks.announce_work_orders(order_ids, [warning.pk])

    assert (first, again) == (2, 0)
    assert told() == ["alice", "chief"]
    assert WebhookDelivery.objects.count() == 1


def test_an_announcement_that_runs_after_the_order_moved_on_tells_what_was_dispatched(city, reach, on_duty, staff_a):
    warning = reach(city["gas_sensor"], 12.0)
    (order,) = WorkOrder.objects.filter(warning=warning)
    # Before the task runs: acknowledged, and the warning worse.
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    reach(city["gas_sensor"], 25.0)

    tasks.announce_work_orders([order.pk], [])

    (notification,) = Notification.objects.filter(kind=NotificationKind.WORK_ORDER_DISPATCHED)
    assert notification.recipient == staff_a
    assert (notification.data["level"], notification.data["minutes"]) == (3, 30)


def test_with_the_broker_down_the_departments_are_told_from_the_committing_process(
    city, on_duty, django_capture_on_commit_callbacks, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise BrokerDown("connection refused")

    monkeypatch.setattr(tasks.announce_work_orders, "delay", broker_down)
    store(city["gas_sensor"], 12.0)
    with django_capture_on_commit_callbacks(execute=True):
        warning_services.sensor_evaluate(sensor_id=city["gas_sensor"].pk)

    assert told(NotificationKind.WORK_ORDER_DISPATCHED) == ["alice"]


def test_opening_a_warning_with_its_routing_keeps_its_query_bound(
    city, on_duty, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    store(city["gas_sensor"], 80.0)
    with django_capture_on_commit_callbacks() as callbacks, django_assert_max_num_queries(EVALUATION_QUERIES):
        warning_services.sensor_evaluate(sensor_id=city["gas_sensor"].pk)
    warning = Warning.objects.get(sensor=city["gas_sensor"])
    order_ids = list(WorkOrder.objects.filter(warning=warning).values_list("pk", flat=True))
    assert len(order_ids) == 4
    # After the commit, in this process: the warning's push, the orders' push, the task enqueued.
    with CaptureQueriesContext(connection) as after:
        for callback in callbacks:
            callback()
    assert len(after.captured_queries) <= 6

    with django_assert_max_num_queries(ANNOUNCEMENT_QUERIES):
        assert escalation.work_orders_announce(work_order_ids=order_ids, level_one_warning_ids=[warning.pk]) == 2


def test_a_level_one_warning_back_with_its_orders_in_hand_enqueues_no_announcement(
    city, on_duty, django_capture_on_commit_callbacks, tasks_in_process, spied
):
    for value, minutes_ago in ((80.0, 30), (1.0, 20), (80.0, 10)):
        store(city["gas_sensor"], value, minutes_ago=minutes_ago)
        with django_capture_on_commit_callbacks(execute=True):
            warning_services.sensor_evaluate(sensor_id=city["gas_sensor"].pk)

    warning = Warning.objects.get(sensor=city["gas_sensor"])
    assert warning.transitions.filter(kind="reactivated").exists()
    # Told when it opened; its flip back to Level I, orders still pending, is no news.
    assert [entry for entry in spied if entry[0] == "announce"] == [
        ("announce", tuple(sorted(WorkOrder.objects.values_list("pk", flat=True))), (warning.pk,))
    ]
    assert told(NotificationKind.LEVEL_ONE_WARNING) == ["chief"]
