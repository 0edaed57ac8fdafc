"""The work-order lists over a long history: keyset pages, and department isolation whatever the cursor says."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from citysafety import api
from dispatch.models import WorkOrder, WorkOrderStatus
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning.models import Warning, WarningStatus

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def queues(department_a, department_b):
    """30 warnings, each with an order for department A and one for B; the newest five of each still open."""
    rule = ThresholdRuleFactory()
    sensors = [SensorFactory(sensor_type=rule.sensor_type) for _ in range(5)]
    orders = []
    for n in range(30):
        is_open = n >= 25
        at = START + timedelta(minutes=n // 2 * 2)  # pairs of warnings opened at the same minute
        warning = Warning.objects.create(
            sensor=sensors[n % 5],
            rule=rule,
            level=3,
            status=WarningStatus.ACTIVE if is_open else WarningStatus.CLOSED,
            opened_at=at,
            first_value=12,
            last_value=12,
            peak_value=12,
            last_observed_at=at,
        )
        for department in (department_a, department_b):
            orders.append(
                WorkOrder(
                    warning=warning,
                    department=department,
                    level=3,
                    status=WorkOrderStatus.PENDING if is_open else WorkOrderStatus.CLOSED,
                    created_at=at,
                    ack_deadline=at + timedelta(minutes=30),
                )
            )
    WorkOrder.objects.bulk_create(orders)
    return orders


def newest_first(orders) -> list[int]:
    return [o.pk for o in sorted(orders, key=lambda o: (o.created_at, o.pk), reverse=True)]


def walk(client, url: str) -> list[int]:
    seen = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        seen += [item["id"] for item in response.json()["results"]]
        url = response.json()["next"]
    return seen


def cursor_of(client, url: str) -> str:
    return parse_qs(urlsplit(client.get(url).json()["next"]).query)["cursor"][0]


def test_a_department_pages_through_its_own_orders_only(client, queues, staff_a, department_a):
    client.force_login(staff_a)
    mine = [o for o in queues if o.department_id == department_a.pk]

    assert walk(client, "/api/v1/work-orders/?page_size=4") == newest_first(mine)
    assert walk(client, "/api/v1/work-orders/?open=true&page_size=2") == newest_first(
        o for o in mine if o.status != WorkOrderStatus.CLOSED
    )
    assert walk(client, "/api/v1/work-orders/?open=false&page_size=7") == newest_first(
        o for o in mine if o.status == WorkOrderStatus.CLOSED
    )


def test_the_duty_officer_pages_through_every_order_and_filters_by_department(
    client, queues, duty_officer, department_b
):
    client.force_login(duty_officer)

    assert walk(client, "/api/v1/work-orders/?page_size=9") == newest_first(queues)
    assert walk(client, f"/api/v1/work-orders/?department={department_b.pk}&status=pending&page_size=2") == (
        newest_first(o for o in queues if o.department_id == department_b.pk and o.status == "pending")
    )


def test_another_departments_cursor_is_refused(client, queues, staff_a, staff_b):
    client.force_login(staff_a)
    cursor = cursor_of(client, "/api/v1/work-orders/?page_size=3")

    client.force_login(staff_b)
    response = client.get("/api/v1/work-orders/", {"cursor": cursor, "page_size": 3})

    assert response.status_code == 400
    assert "belongs to another list" in response.json()["cursor"][0]
    assert "results" not in response.json()


def test_a_cursor_valid_for_its_holder_shows_only_their_departments_orders_wherever_it_points(
    client, queues, staff_b, department_b
):
    """Even a cursor the server signed for this person cannot reach past the department's own orders."""
    client.force_login(staff_b)
    scope = api.listing_scope(path="/api/v1/work-orders/", params={"page_size": ["100"]}, user_id=staff_b.pk)
    everything = WorkOrder.objects.order_by("-created_at", "-pk").first()
    anywhere = api.cursor_encode(api.Position(everything.created_at + timedelta(days=1), 10**9), scope=scope)

    response = client.get("/api/v1/work-orders/", {"cursor": anywhere, "page_size": 100})

    assert response.status_code == 200
    assert {item["department"]["id"] for item in response.json()["results"]} == {department_b.pk}
    assert [item["id"] for item in response.json()["results"]] == newest_first(
        o for o in queues if o.department_id == department_b.pk
    )


@pytest.mark.parametrize("cursor", ["", "%00", "eyJ2IjoxfQ:1abcde:" + "A" * 43, "a:b:c:d", "😀" * 10])
def test_work_orders_with_a_nasty_cursor_get_a_clear_answer(client, queues, staff_a, cursor):
    client.force_login(staff_a)
    response = client.get(f"/api/v1/work-orders/?cursor={cursor}")
    if cursor == "":
        assert response.status_code == 200  # no cursor: the first page
    else:
        assert response.status_code == 400
        assert response.json()["cursor"][0].startswith("The cursor ")


def test_the_work_order_page_shows_the_first_open_orders_and_says_more_follow(
    client, queues, staff_a, department_a, monkeypatch
):
    from dispatch import views

    monkeypatch.setattr(views, "INITIAL_ORDERS", 3)
    client.force_login(staff_a)

    config = client.get("/work-orders/").context["config"]

    open_mine = [o for o in queues if o.department_id == department_a.pk and o.status != WorkOrderStatus.CLOSED]
    assert [order["id"] for order in config["orders"]] == newest_first(open_mine)[:3]
    assert config["ordersComplete"] is False


def test_a_list_page_joins_only_the_rows_it_shows(client, queues, staff_a, django_assert_max_num_queries):
    client.force_login(staff_a)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/work-orders/?page_size=2")
    assert len(response.json()["results"]) == 2
    keys = [q["sql"] for q in queries if '"dispatch_workorder"."created_at" AS "created_at"' in q["sql"]]
    details = [q["sql"] for q in queries if 'INNER JOIN "warning_warning"' in q["sql"]]
    assert len(keys) == 1
    assert "JOIN" not in keys[0]
    assert len(details) == 1
    assert '"dispatch_workorder"."id" IN (' in details[0]


def plan_of(sql: str) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        # Priced out on tiny tables, to see whether an index serves the order at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row for (row,) in cursor.fetchall())


@pytest.mark.parametrize(
    ("who", "query", "index"),
    [
        ("staff", "open=true", "wo_dept_open_created_idx"),
        ("staff", "", "wo_dept_created_idx"),
        ("staff", "status=closed", "wo_dept_status_created_idx"),
        ("duty", "", "wo_created_idx"),
        ("duty", "open=true", "wo_open_created_idx"),
        ("duty", "status=pending", "wo_status_created_idx"),
    ],
)
def test_a_deep_queue_page_is_one_range_of_an_index(client, queues, staff_a, duty_officer, who, query, index):
    client.force_login(staff_a if who == "staff" else duty_officer)
    cursor = cursor_of(client, f"/api/v1/work-orders/?page_size=1&{query}")
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/api/v1/work-orders/?page_size=1&{query}&cursor={cursor}")
    keys = next(q["sql"] for q in queries if '"dispatch_workorder"."id") <' in q["sql"])

    plan = plan_of(keys)

    assert index in plan, plan
    assert "Sort" not in plan
    assert any("Index Cond:" in line and "ROW(created_at, id) < ROW(" in line for line in plan.splitlines()), plan


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_fast_list_rows_equal_the_serializers_field_for_field(city, reach, staff_a, duty_officer, language):
    """The list serializers build rows in plain code; each must be what the serializer gives for one object."""
    from django.utils import translation

    from dispatch import services
    from dispatch.api.serializers import WorkOrderSerializer
    from dispatch.selectors import work_orders_with_details
    from warning.api.serializers import WarningSummarySerializer
    from warning.selectors import warnings_with_details

    reach(city["gas_sensor"], 12.0)
    reach(city["gas_sensor"], 60.0)  # escalated to Level I: four departments
    reach(city["water_sensor"], 0.18)
    outside = SensorFactory(code="GAS-0099", sensor_type=city["gas_sensor"].sensor_type, district=None)
    reach(outside, 25.0)
    order = WorkOrder.objects.filter(department=staff_a.membership.department).first()
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a, note="on our way")
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="valve closed")

    with translation.override(language):
        orders = list(work_orders_with_details().order_by("-created_at", "-pk"))
        warnings = list(warnings_with_details().order_by("-opened_at", "-pk"))
        assert len(orders) >= 6
        assert WorkOrderSerializer(orders, many=True).data == [WorkOrderSerializer(o).data for o in orders]
        assert WarningSummarySerializer(warnings, many=True).data == [
            WarningSummarySerializer(w).data for w in warnings
        ]
    assert any(o.events.count() >= 3 for o in orders)
    assert any(w.sensor.district is None for w in warnings)
