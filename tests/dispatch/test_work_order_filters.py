"""The work-order list's filters refuse a value they cannot read (400 naming the parameter and what it takes)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dispatch.models import WorkOrder, WorkOrderStatus
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning.models import Warning, WarningStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(duty_officer):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(duty_officer)
    return client


@pytest.fixture
def orders(department_a, department_b):
    """An open and a closed warning, each with an order for departments A and B; A's open order is overdue."""
    rule = ThresholdRuleFactory()
    now = timezone.now()
    made = {}
    for is_open in (True, False):
        warning = Warning.objects.create(
            sensor=SensorFactory(sensor_type=rule.sensor_type),
            rule=rule,
            level=3,
            status=WarningStatus.ACTIVE if is_open else WarningStatus.CLOSED,
            opened_at=now,
            first_value=12,
            last_value=12,
            peak_value=12,
            last_observed_at=now,
        )
        for department in (department_a, department_b):
            made[(is_open, department.code)] = WorkOrder.objects.create(
                warning=warning,
                department=department,
                level=3,
                status=WorkOrderStatus.PENDING if is_open else WorkOrderStatus.CLOSED,
                ack_deadline=now + timedelta(minutes=30),
                is_overdue=is_open and department == department_a,
            )
    return made


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_valid_filters_still_filter(client, orders, department_a):
    open_orders = {o.pk for (is_open, _), o in orders.items() if is_open}
    closed_orders = {o.pk for (is_open, _), o in orders.items() if not is_open}
    a_open = orders[(True, department_a.code)]

    assert ids(client.get("/api/v1/work-orders/?open=true")) == open_orders
    assert ids(client.get("/api/v1/work-orders/?open=false")) == closed_orders
    assert ids(client.get("/api/v1/work-orders/?open=1")) == open_orders
    assert ids(client.get("/api/v1/work-orders/?open=FALSE")) == closed_orders
    assert ids(client.get("/api/v1/work-orders/?is_overdue=true")) == {a_open.pk}
    assert ids(client.get(f"/api/v1/work-orders/?warning={a_open.warning_id}")) == {
        o.pk for o in orders.values() if o.warning_id == a_open.warning_id
    }
    assert ids(client.get(f"/api/v1/work-orders/?department={department_a.pk}&status=pending")) == {a_open.pk}
    assert ids(client.get("/api/v1/work-orders/?status=pending&status=closed")) == {o.pk for o in orders.values()}


@pytest.mark.parametrize(
    ("query", "parameter", "says"),
    [
        # Read as "no filter" before: every order, open and closed, came back.
        ("open=null", "open", "open must be true or false, not 'null'."),
        ("open=yes", "open", "open must be true or false, not 'yes'."),
        ("open=", "open", "open must be true or false, not ''."),
        ("open=true&open=maybe", "open", "not 'maybe'"),
        ("is_overdue=unknown", "is_overdue", "is_overdue must be true or false, not 'unknown'."),
        ("is_overdue=2", "is_overdue", "true or false"),
        (
            "status=done",
            "status",
            "status must be one of pending, acknowledged, on_site, reported, verified, returned, transferred, closed, not 'done'",
        ),
        ("status=pending&status=PENDING", "status", "not 'PENDING'"),
        (
            "status=",
            "status",
            "one of pending, acknowledged, on_site, reported, verified, returned, transferred, closed, not ''",
        ),
        ("status=pending,closed", "status", "repeat the parameter: status=…&status=…"),
        # Read as the id 1 or 100000, or as no such warning, before.
        ("warning=1.0", "warning", "warning must be an id: a whole number from 1 to 9223372036854775807, not '1.0'."),
        ("warning=1e5", "warning", "not '1e5'"),
        ("warning=-3", "warning", "not '-3'"),
        ("warning=0", "warning", "not '0'"),
        ("warning=%C2%B2", "warning", "not '²'"),
        ("warning=%D9%A3", "warning", "not '٣'"),
        ("warning=NaN", "warning", "not 'NaN'"),
        ("warning=99999999999999999999", "warning", "from 1 to 9223372036854775807"),
        ("department=abc", "department", "department must be an id"),
        ("department=", "department", "not ''"),
    ],
)
def test_an_invalid_filter_value_is_a_400_naming_the_parameter_and_what_it_takes(
    client, orders, query, parameter, says
):
    response = client.get(f"/api/v1/work-orders/?{query}")

    assert response.status_code == 400
    assert says in response.json()[parameter][0]


def test_every_parameter_at_fault_is_named_at_once(client, orders):
    response = client.get("/api/v1/work-orders/?open=null&warning=x&status=done")

    assert response.status_code == 400
    assert set(response.json()) == {"open", "warning", "status"}


def test_a_long_refused_value_is_quoted_cut_short(client, orders):
    response = client.get("/api/v1/work-orders/", {"open": "y" * 5000})

    message = response.json()["open"][0]
    assert response.status_code == 400
    assert len(message) < 120
    assert message.endswith("yyy…'.")


def test_a_percent_sign_in_a_refused_value_is_quoted_as_sent(client, orders):
    response = client.get("/api/v1/work-orders/", {"status": "%(name)s %s %"})

    assert response.status_code == 400
    assert "not '%(name)s %s %'" in response.json()["status"][0]


def test_the_refusal_speaks_the_readers_language(orders, duty_officer):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(duty_officer)

    response = client.get("/api/v1/work-orders/?open=null")

    assert response.status_code == 400
    assert response.json()["open"] == ["open 须为 true 或 false，而不是 'null'。"]  # noqa: RUF001


def test_department_staff_get_the_same_refusals(orders, staff_a):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff_a)

    assert client.get("/api/v1/work-orders/?open=null").status_code == 400
    assert client.get("/api/v1/work-orders/?open=true").status_code == 200
