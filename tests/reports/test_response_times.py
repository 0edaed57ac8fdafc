"""Response times per department and per domain: medians and 90th
percentiles from dispatch, overdue counts, the period asked for."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch.models import WorkOrder
from reports.performance import Period, response_times
from tests.factories import DepartmentFactory, RiskDomainFactory, SensorFactory, SensorTypeFactory, ThresholdRuleFactory
from warning.models import Warning, WarningStatus

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def order(department, domain, *, ack_minutes=None, close_minutes=None, overdue=False, days_ago=1, on_site_minutes=None):
    """One dispatched order on a warning of its own, with the minutes each step took."""
    sensor_type = SensorTypeFactory(code=f"type-{domain.code}", domain=domain)
    sensor = SensorFactory(sensor_type=sensor_type)
    created = NOW - timedelta(days=days_ago)
    warning = Warning.objects.create(
        sensor=sensor,
        rule=ThresholdRuleFactory(sensor_type=sensor_type),
        level=3,
        status=WarningStatus.ACTIVE,
        opened_at=created,
        first_value=12,
        last_value=12,
        peak_value=12,
        last_observed_at=created,
    )
    return WorkOrder.objects.create(
        warning=warning,
        department=department,
        level=3,
        created_at=created,
        ack_deadline=created + timedelta(minutes=15),
        acknowledged_at=None if ack_minutes is None else created + timedelta(minutes=ack_minutes),
        on_site_at=None if on_site_minutes is None else created + timedelta(minutes=on_site_minutes),
        closed_at=None if close_minutes is None else created + timedelta(minutes=close_minutes),
        is_overdue=overdue,
    )


@pytest.fixture
def orders(department_a, department_b):
    gas = RiskDomainFactory(code="gas", name="Gas")
    water = RiskDomainFactory(code="water", name="Water supply")
    # Gas company: 2, 4, 6, 8, 10 minutes to acknowledge; one never did.
    for minutes in (2, 4, 6, 8, 10):
        order(
            department_a,
            gas,
            ack_minutes=minutes,
            on_site_minutes=minutes * 3,
            close_minutes=minutes * 10,
            overdue=minutes > 8,
        )
    order(department_a, gas, overdue=True)
    # Water company: 1 and 3 minutes, on water warnings; one outside the period.
    order(department_b, water, ack_minutes=1, close_minutes=30)
    order(department_b, water, ack_minutes=3)
    order(department_b, water, ack_minutes=100, days_ago=60)
    return {"gas": gas, "water": water}


def period(days=30):
    today = timezone.localdate()
    return Period(today - timedelta(days=days - 1), today)


def test_each_department_gets_its_median_and_90th_percentile(orders, duty_officer):
    rows = {row["group"]: row for row in response_times(user=duty_officer, period=period(), by="department")}

    assert set(rows) == {"Gas company", "Water company"}
    gas = rows["Gas company"]
    assert (gas["orders"], gas["overdue"], gas["unacknowledged"]) == (6, 2, 1)
    assert gas["acknowledge_median_minutes"] == 6.0
    assert gas["acknowledge_p90_minutes"] == 9.2  # between 8 and 10, as pandas interpolates
    assert gas["arrive_median_minutes"] == 18.0
    assert gas["arrive_p90_minutes"] == 27.6
    assert gas["close_median_minutes"] == 60.0
    water = rows["Water company"]
    # The order of 60 days ago is outside the 30 days asked for.
    assert (water["orders"], water["acknowledge_median_minutes"], water["close_median_minutes"]) == (2, 2.0, 30.0)
    assert water["close_p90_minutes"] == 30.0
    assert water["arrive_median_minutes"] is None


def test_figures_group_by_risk_domain_too(orders, duty_officer):
    rows = {row["group"]: row for row in response_times(user=duty_officer, period=period(90), by="domain")}

    assert set(rows) == {"Gas", "Water supply"}
    assert rows["Water supply"]["orders"] == 3
    assert rows["Water supply"]["acknowledge_median_minutes"] == 3.0


def test_department_staff_see_their_own_department_only(orders, staff_a):
    rows = response_times(user=staff_a, period=period(), by="department")

    assert [row["group"] for row in rows] == ["Gas company"]


def test_a_period_without_orders_has_no_rows(orders, duty_officer):
    long_ago = Period(timezone.localdate() - timedelta(days=400), timezone.localdate() - timedelta(days=370))

    assert response_times(user=duty_officer, period=long_ago, by="department") == []


def test_the_api_answers_with_the_period_and_the_rows(client, orders, duty_officer):
    client.force_login(duty_officer)
    today = timezone.localdate()

    answer = client.get("/api/v1/reports/response-times/", {"start": str(today - timedelta(days=6)), "by": "domain"})

    assert answer.status_code == 200
    body = answer.json()
    assert (body["start"], body["end"], body["by"]) == (str(today - timedelta(days=6)), str(today), "domain")
    assert {row["group"]: row["orders"] for row in body["rows"]} == {"Gas": 6, "Water supply": 2}


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2026-13-01"}, "start", "“2026-13-01” is not a date: write it as YYYY-MM-DD."),
        ({"end": "yesterday"}, "end", "“yesterday” is not a date"),
        ({"end": "20261102"}, "end", "“20261102” is not a date"),
        ({"end": "2026-W01-1"}, "end", "is not a date"),
        ({"start": "2026-05-02", "end": "2026-05-01"}, "end", "The period ends (2026-05-01) before it starts"),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "start", "Choose a period of at most 367 days."),
        ({"by": "weather"}, "by", "Group by one of: department, domain."),
        ({"start": ""}, "start", "“” is not a date"),
        ({"by": ""}, "by", "Group by one of"),
    ],
)
def test_the_api_refuses_a_bad_period_or_grouping_by_name(client, duty_officer, params, field, message):
    client.force_login(duty_officer)

    refused = client.get("/api/v1/reports/response-times/", params, HTTP_ACCEPT_LANGUAGE="en")

    assert refused.status_code == 400
    assert message in str(refused.json()[field])


def test_the_api_is_for_people_who_are_logged_in(client):
    assert client.get("/api/v1/reports/response-times/").status_code in (401, 403)


def test_the_page_shows_the_table_and_a_chart_per_step(client, orders, duty_officer):
    client.force_login(duty_officer)

    page = client.get("/reports/response-times/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="response-times"' in html
    assert html.count('<svg role="img"') == 3
    assert "Gas company" in html
    assert "Water company" in html
    # The largest bar of a chart is the full width.
    assert 'width="300"' in html


def test_the_page_says_what_is_wrong_with_the_period(client, duty_officer):
    client.force_login(duty_officer)

    page = client.get("/reports/response-times/", {"start": "2026-02-30"}, HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 400
    assert "“2026-02-30” is not a date" in page.content.decode()


def test_a_new_department_with_no_orders_is_not_listed(orders, duty_officer):
    DepartmentFactory(code="drainage", name="Drainage company")

    rows = response_times(user=duty_officer, period=period(), by="department")

    assert "Drainage company" not in {row["group"] for row in rows}
