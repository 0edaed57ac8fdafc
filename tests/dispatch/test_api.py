"""The work order and warning API, and what each person may see and do."""

import pytest

from dispatch.models import WorkOrder

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(city, reach):
    """One gas warning (department A's order) and one water warning (B's)."""
    gas = reach(city["gas_sensor"], 12.0)
    water = reach(city["water_sensor"], 0.18)
    return {
        "gas_warning": gas,
        "water_warning": water,
        "a": WorkOrder.objects.get(warning=gas),
        "b": WorkOrder.objects.get(warning=water),
    }


def ids(response):
    return sorted(item["id"] for item in response.json()["results"])


def test_staff_see_only_their_departments_orders(client, orders, staff_b):
    client.force_login(staff_b)

    listing = client.get("/api/v1/work-orders/")

    assert listing.status_code == 200
    assert ids(listing) == [orders["b"].pk]
    assert "GAS-0001" not in listing.content.decode()
    assert client.get(f"/api/v1/work-orders/{orders['a'].pk}/").status_code == 404
    assert client.get(f"/api/v1/work-orders/?warning={orders['gas_warning'].pk}").json()["count"] == 0


def test_staff_cannot_act_on_another_departments_order(client, orders, staff_b):
    client.force_login(staff_b)
    order = orders["a"]

    acknowledge = client.post(f"/api/v1/work-orders/{order.pk}/acknowledge/", {}, content_type="application/json")
    report = client.post(f"/api/v1/work-orders/{order.pk}/report/", {"report": "x"}, content_type="application/json")

    assert acknowledge.status_code == 404
    assert report.status_code == 404
    order.refresh_from_db()
    assert order.status == "pending"


def test_staff_cannot_read_or_close_warnings(client, orders, staff_b):
    client.force_login(staff_b)
    warning = orders["gas_warning"]
    assert client.get("/api/v1/warnings/").status_code == 403
    assert client.get(f"/api/v1/warnings/{warning.pk}/").status_code == 403
    assert client.get("/api/v1/warnings/counts/").status_code == 403
    close = client.post(f"/api/v1/warnings/{warning.pk}/close/", {"note": "x"}, content_type="application/json")
    assert close.status_code == 403


def test_staff_see_only_their_departments_sensors_on_the_map(client, orders, staff_b):
    client.force_login(staff_b)
    codes = [f["properties"]["code"] for f in client.get("/api/v1/sensors/geojson/").json()["features"]]
    assert codes == ["WATER-0001"]


def test_anonymous_users_get_nothing(client, orders):
    for url in ("/api/v1/work-orders/", "/api/v1/warnings/", "/api/v1/sensors/geojson/", "/api/v1/districts/geojson/"):
        assert client.get(url).status_code in (401, 403), url


def test_the_duty_officer_sees_every_order_and_warning(client, orders, duty_officer):
    client.force_login(duty_officer)
    assert ids(client.get("/api/v1/work-orders/")) == sorted([orders["a"].pk, orders["b"].pk])
    assert ids(client.get("/api/v1/warnings/")) == sorted([orders["gas_warning"].pk, orders["water_warning"].pk])


def test_the_loop_through_the_api(client, orders, staff_a, duty_officer, city, reach):
    order = orders["a"]
    reach(city["gas_sensor"], 1.0)  # back to normal: an ordinary close
    client.force_login(staff_a)
    acknowledged = client.post(
        f"/api/v1/work-orders/{order.pk}/acknowledge/", {"note": "Crew dispatched"}, content_type="application/json"
    )
    assert acknowledged.status_code == 200
    assert acknowledged.json()["status"] == "acknowledged"
    on_site = client.post(f"/api/v1/work-orders/{order.pk}/on-site/", {}, content_type="application/json")
    assert on_site.json()["status"] == "on_site"
    reported = client.post(
        f"/api/v1/work-orders/{order.pk}/report/", {"report": "Valve closed"}, content_type="application/json"
    )
    assert reported.json()["status"] == "reported"
    assert [e["kind"] for e in reported.json()["events"]] == ["created", "acknowledged", "on_site", "reported"]

    client.force_login(duty_officer)
    verified = client.post(f"/api/v1/work-orders/{order.pk}/verify/", {"accept": True}, content_type="application/json")
    assert verified.json()["status"] == "verified"
    closed = client.post(
        f"/api/v1/warnings/{orders['gas_warning'].pk}/close/", {"note": "Safe again"}, content_type="application/json"
    )

    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_by"] == "duty"
    assert closed.json()["transitions"][-1]["kind"] == "closed"


def test_an_illegal_transition_is_a_409_with_a_readable_message(client, orders, staff_a, duty_officer):
    order = orders["a"]
    client.force_login(staff_a)
    early = client.post(f"/api/v1/work-orders/{order.pk}/report/", {"report": "x"}, content_type="application/json")
    assert early.status_code == 409
    assert "Acknowledge the work order before reporting" in early.json()["detail"]

    client.force_login(duty_officer)
    close = client.post(
        f"/api/v1/warnings/{orders['gas_warning'].pk}/close/", {"note": "x"}, content_type="application/json"
    )
    assert close.status_code == 409
    assert "Gas company" in close.json()["detail"]


def test_a_report_without_text_is_a_400_naming_the_field(client, orders, staff_a):
    client.force_login(staff_a)
    client.post(f"/api/v1/work-orders/{orders['a'].pk}/acknowledge/", {}, content_type="application/json")
    response = client.post(f"/api/v1/work-orders/{orders['a'].pk}/report/", {}, content_type="application/json")
    assert response.status_code == 400
    assert "report" in response.json()


def test_warnings_filter_by_level_status_domain_and_district(client, orders, duty_officer, city, reach):
    reach(city["gas_sensor"], 60.0)
    client.force_login(duty_officer)
    gas, water = orders["gas_warning"].pk, orders["water_warning"].pk

    assert ids(client.get("/api/v1/warnings/?level=1")) == [gas]
    assert ids(client.get("/api/v1/warnings/?level=3")) == [water]
    assert ids(client.get("/api/v1/warnings/?domain=water_supply")) == [water]
    assert ids(client.get("/api/v1/warnings/?district=340102")) == sorted([gas, water])
    assert ids(client.get("/api/v1/warnings/?district=999999")) == []
    assert ids(client.get("/api/v1/warnings/?status=open")) == sorted([gas, water])
    assert client.get("/api/v1/warnings/?status=bogus").status_code == 400
    counts = client.get("/api/v1/warnings/counts/").json()
    assert counts == {"open": 2, "recovered": 0, "active_by_level": {"1": 1, "2": 0, "3": 1}}


def test_the_warning_detail_has_its_level_history(client, orders, duty_officer, city, reach):
    reach(city["gas_sensor"], 30.0)
    client.force_login(duty_officer)
    detail = client.get(f"/api/v1/warnings/{orders['gas_warning'].pk}/").json()
    assert [(t["kind"], t["from_level"], t["to_level"]) for t in detail["transitions"]] == [
        ("opened", None, 3),
        ("escalated", 3, 2),
    ]
    assert detail["rule"]["thresholds"] == {"1": 50.0, "2": 20.0, "3": 10.0}
    assert detail["sensor"]["code"] == "GAS-0001"


def test_the_warning_list_is_paginated_with_few_queries(
    client, duty_officer, city, reach, django_assert_max_num_queries
):
    from tests.factories import SensorFactory

    for n in range(15):
        reach(SensorFactory(code=f"GAS-1{n:03d}", sensor_type=city["gas_sensor"].sensor_type), 12.0)
    client.force_login(duty_officer)
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/warnings/?page=1")
    assert response.json()["count"] == 15


def test_the_api_schema_and_docs_are_served(client, duty_officer):
    client.force_login(duty_officer)
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/readings/" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn.jsdelivr" not in docs.content


def test_the_openapi_schema_is_valid_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/v1/work-orders/{id}/acknowledge/" in (tmp_path / "schema.yml").read_text()


def test_the_work_order_list_takes_few_queries(client, city, reach, staff_a, django_assert_max_num_queries):
    from tests.factories import SensorFactory

    for n in range(10):
        reach(
            SensorFactory(
                code=f"GAS-2{n:03d}",
                sensor_type=city["gas_sensor"].sensor_type,
                owner_department=staff_a.membership.department,
            ),
            12.0,
        )
    client.force_login(staff_a)
    # A constant number: one query per related list (events, checklist, photos), not per order.
    with django_assert_max_num_queries(12):
        response = client.get("/api/v1/work-orders/")
    assert response.json()["count"] == 10


def test_a_work_order_id_that_is_not_a_number_is_a_404(client, staff_a):
    client.force_login(staff_a)
    assert client.post("/api/v1/work-orders/abc/acknowledge/", {}, content_type="application/json").status_code == 404
    assert client.get("/api/v1/work-orders/abc/").status_code == 404


def test_a_report_posted_as_a_form_takes_null_for_its_counts(client, orders, staff_a):
    client.force_login(staff_a)
    client.post(f"/api/v1/work-orders/{orders['a'].pk}/acknowledge/", {}, content_type="application/json")
    client.post(f"/api/v1/work-orders/{orders['a'].pk}/on-site/", {}, content_type="application/json")

    # A multipart form, as the test client sends a dict: null has no other spelling there.
    response = client.post(
        f"/api/v1/work-orders/{orders['a'].pk}/report/",
        {"report": "Valve closed", "people_sent": "", "vehicles_sent": "null"},
    )

    assert response.status_code == 200, response.content
    order = WorkOrder.objects.get(pk=orders["a"].pk)
    assert (order.people_sent, order.vehicles_sent) == (None, None)


def test_unassigning_in_a_form_takes_null(client, orders, duty_officer):
    client.force_login(duty_officer)

    response = client.post(f"/api/v1/work-orders/{orders['a'].pk}/assign/", {"assignee": "null"})

    assert response.status_code == 200, response.content
    assert WorkOrder.objects.get(pk=orders["a"].pk).assignee_id is None
