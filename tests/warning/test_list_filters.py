"""The warning list's, counts' and closed-warning search's filters refuse a value they cannot read."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from tests.factories import SensorFactory, ThresholdRuleFactory
from warning.models import Level, Warning, WarningStatus

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)
LISTS = ["/api/v1/warnings/", "/api/v1/warnings/counts/", "/api/v1/warnings/closed/"]


@pytest.fixture
def client(duty_officer):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(duty_officer)
    return client


@pytest.fixture
def warnings():
    """One warning per level and status, opened an hour apart."""
    rule = ThresholdRuleFactory()
    made = []
    for n, (level, status) in enumerate(
        (level, status) for level in Level for status in (WarningStatus.ACTIVE, WarningStatus.CLOSED)
    ):
        opened = START + timedelta(hours=n)
        made.append(
            Warning.objects.create(
                sensor=SensorFactory(sensor_type=rule.sensor_type),
                rule=rule,
                level=level,
                status=status,
                opened_at=opened,
                first_value=12,
                last_value=12,
                peak_value=12,
                last_observed_at=opened,
                closed_at=opened + timedelta(minutes=5) if status == WarningStatus.CLOSED else None,
            )
        )
    return made


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_valid_filters_still_filter(client, warnings):
    def matching(condition) -> set[int]:
        return {w.pk for w in warnings if condition(w)}

    assert ids(client.get("/api/v1/warnings/?level=1&level=3")) == matching(lambda w: w.level in (1, 3))
    assert ids(client.get("/api/v1/warnings/?status=open")) == matching(lambda w: w.status == "active")
    after, before = START + timedelta(hours=1), START + timedelta(hours=4)
    assert ids(
        client.get("/api/v1/warnings/", {"opened_after": after.isoformat(), "opened_before": before.isoformat()})
    ) == matching(lambda w: after <= w.opened_at < before)
    # The same instant in Beijing time.
    assert ids(client.get("/api/v1/warnings/", {"opened_after": "2026-03-01T13:00:00+08:00"})) == matching(
        lambda w: w.opened_at >= START + timedelta(hours=5)
    )
    assert ids(client.get("/api/v1/warnings/closed/?status=closed&level=2")) == matching(
        lambda w: w.status == "closed" and w.level == 2
    )
    assert client.get("/api/v1/warnings/counts/?level=1").json()["open"] == 1


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    ("query", "parameter", "says"),
    [
        ("level=I", "level", "level must be one of 1, 2, 3, not 'I' (for several, repeat the parameter"),
        ("level=0", "level", "not '0'"),
        ("level=1,2", "level", "level=…&level=…"),
        ("level=1&level=4", "level", "not '4'"),
        ("level=", "level", "not ''"),
        ("status=null", "status", "status must be one of"),
        ("status=", "status", "not ''"),
        # Read as midnight, or as Beijing time, before: which moment depended on the reader.
        ("opened_after=2026-03-01", "opened_after", "opened_after must carry its time zone, e.g. +08:00 or Z"),
        ("opened_after=2026-03-01T08:00", "opened_after", "has none"),
        ("opened_after=last%20tuesday", "opened_after", "ISO 8601 date and time with its zone, e.g. 2026-11-21T08"),
        ("opened_after=2026-02-30T08:00Z", "opened_after", "not '2026-02-30T08:00Z'"),
        ("opened_after=", "opened_after", "not ''"),
        ("opened_before=0001-01-01T00:00%2B08:00", "opened_before", "outside the years 1 to 9999"),
        ("opened_before=9999-12-31T23:00-08:00", "opened_before", "outside the years 1 to 9999"),
        (
            "opened_after=2026-03-02T00:00Z&opened_before=2026-03-01T00:00Z",
            "opened_before",
            "opened_before (2026-03-01T00:00:00+00:00) must not come before opened_after (2026-03-02T00:00:00+00:00)",
        ),
    ],
)
def test_an_invalid_filter_value_is_a_400_naming_the_parameter_and_what_it_takes(
    client, warnings, url, query, parameter, says
):
    response = client.get(f"{url}?{query}")

    assert response.status_code == 400
    assert says in response.json()[parameter][0]


def test_the_status_lists_its_values_with_open(client, warnings):
    response = client.get("/api/v1/warnings/?status=opened")

    assert response.json() == {"status": ["status must be one of active, recovered, closed, open, not 'opened'."]}


def test_the_closed_warning_search_refuses_another_status_rather_than_finding_nothing(client, warnings):
    response = client.get("/api/v1/warnings/closed/?status=active")

    assert response.status_code == 400
    assert response.json() == {"status": ["status must be one of closed, not 'active'."]}


def test_a_null_character_in_a_text_filter_is_refused(client, warnings):
    response = client.get("/api/v1/warnings/", {"search": "GAS\x00"})

    assert response.status_code == 400
    assert "search" in response.json()


def test_an_unknown_district_or_sensor_code_finds_nothing(client, warnings):
    # A well-formed code no district has is a search with no result, not a mistake in the request.
    assert ids(client.get("/api/v1/warnings/?district=999999")) == set()
    assert ids(client.get("/api/v1/warnings/?sensor=NO-SUCH")) == set()


@pytest.mark.parametrize("url", LISTS)
def test_a_time_at_an_offset_postgresql_does_not_take_filters_at_its_instant(client, warnings, url):
    # ISO 8601 and Python take offsets up to ±23:59, PostgreSQL up to ±15:59 (a 500 before).
    response = client.get(
        url, {"opened_after": "2026-03-01T20:15:00+18:15", "opened_before": "3814-10-08T14:20:03+18:15"}
    )

    assert response.status_code == 200, response.content
    if url != "/api/v1/warnings/counts/":
        assert {row["id"] for row in response.json()["results"]} == {
            w.pk
            for w in warnings
            if w.opened_at >= START + timedelta(hours=2) and (url == LISTS[0] or w.status == "closed")
        }


@pytest.mark.parametrize("url", LISTS)
def test_equal_opened_bounds_are_an_empty_range_not_a_mistake(client, warnings, url):
    # The same instant, written in two zones: the range [t, t) holds no warning.
    response = client.get(url, {"opened_after": "2026-03-01T00:00:00Z", "opened_before": "2026-03-01T08:00:00+08:00"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["open"] == 0 if url.endswith("/counts/") else body["results"] == []
