"""The warning list and the closed-warning search over a long history: keyset pages, cursors, counts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import signing
from django.db import connection, transaction
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from citysafety import api
from tests.factories import DistrictFactory, SensorFactory, ThresholdRuleFactory, UserFactory
from warning.models import Warning, WarningStatus

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def history(db):
    """40 warnings on four sensors in two districts, every third pair opened at the same instant."""
    yaohai, shushan = DistrictFactory(code="340102", name="Yaohai"), DistrictFactory(code="340104", name="Shushan")
    rule = ThresholdRuleFactory()
    sensors = [
        SensorFactory(code="GAS-0001", name="Huizhou Road valve well", sensor_type=rule.sensor_type, district=yaohai),
        SensorFactory(code="GAS-0002", name="Changjiang Road chamber", sensor_type=rule.sensor_type, district=yaohai),
        SensorFactory(code="GAS-0003", name="Huizhou Road regulator", sensor_type=rule.sensor_type, district=shushan),
        SensorFactory(code="WATER-0009", name="Wangjiang Road main", sensor_type=rule.sensor_type, district=shushan),
    ]
    warnings = []
    for n in range(40):
        opened = START + timedelta(hours=(n // 2) * 2 if n % 3 == 0 else n)
        is_open = n >= 38  # the two newest, on distinct sensors
        warnings.append(
            Warning(
                sensor=sensors[n % 4],
                rule=rule,
                level=1 + n % 3,
                status=WarningStatus.ACTIVE if is_open else WarningStatus.CLOSED,
                opened_at=opened,
                first_value=12,
                last_value=12,
                peak_value=12,
                last_observed_at=opened,
                closed_at=None if is_open else opened + timedelta(hours=1),
                disposal_note="" if is_open else f"Handled {n}",
            )
        )
    Warning.objects.bulk_create(warnings)
    return {"sensors": sensors, "warnings": warnings}


def newest_first(warnings) -> list[int]:
    return [w.pk for w in sorted(warnings, key=lambda w: (w.opened_at, w.pk), reverse=True)]


def walk(client, url: str, *, link: str = "next") -> list[list[int]]:
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        pages.append([item["id"] for item in response.json()["results"]])
        url = response.json()[link]
    return pages


def test_the_warning_list_pages_newest_first_without_gaps_or_repeats(client, duty_officer, history):
    client.force_login(duty_officer)

    pages = walk(client, "/api/v1/warnings/?page_size=7")

    assert [pk for page in pages for pk in page] == newest_first(history["warnings"])
    assert [len(page) for page in pages] == [7, 7, 7, 7, 7, 5]


def test_previous_links_lead_back_through_the_same_pages(client, duty_officer, history):
    client.force_login(duty_officer)
    forward, url = [], "/api/v1/warnings/?page_size=7&level=1&level=3"
    while True:
        page = client.get(url).json()
        forward.append([item["id"] for item in page["results"]])
        if not page["next"]:
            break
        url = page["next"]

    backward = walk(client, page["previous"], link="previous")

    assert backward == forward[-2::-1]
    assert client.get(page["previous"]).json()["next"] is not None


def test_filters_and_count_hold_on_every_page(client, duty_officer, history):
    client.force_login(duty_officer)
    expected = newest_first(w for w in history["warnings"] if w.level == 2 and w.sensor.district.code == "340104")

    first = client.get("/api/v1/warnings/?level=2&district=340104&page_size=3").json()
    pages = walk(client, "/api/v1/warnings/?level=2&district=340104&page_size=3")

    assert [pk for page in pages for pk in page] == expected
    assert first["count"] == len(expected)
    assert first["count_is_estimate"] is False


def test_an_empty_list_has_no_links(client, duty_officer, history):
    client.force_login(duty_officer)
    page = client.get("/api/v1/warnings/?district=999999").json()
    assert page == {"count": 0, "count_is_estimate": False, "next": None, "previous": None, "results": []}


def cursor_of(client, url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(client.get(url).json()["next"]).query)["cursor"][0]


@pytest.mark.parametrize(
    ("cursor", "message"),
    [
        ("not-a-cursor", "The cursor is malformed"),
        ("a" * 600, "The cursor is malformed"),
        ("eyJ2IjoxfQ:1abcde:" + "A" * 43, "not issued by this server or was altered"),
        ("../../etc/passwd", "The cursor is malformed"),
    ],
)
def test_a_malformed_or_forged_cursor_is_a_400_saying_so(client, duty_officer, history, cursor, message):
    client.force_login(duty_officer)

    response = client.get("/api/v1/warnings/", {"cursor": cursor})

    assert response.status_code == 400
    assert message in response.json()["cursor"][0]


def test_a_cursor_altered_by_one_character_is_refused(client, duty_officer, history):
    client.force_login(duty_officer)
    cursor = cursor_of(client, "/api/v1/warnings/?page_size=5")
    payload, stamp, signature = cursor.split(":")
    # Move the position: a payload of our own under the old signature.
    forged = signing.b64_encode(b'{"v":1,"s":"x","d":"n","k":["2030-01-01T00:00:00+00:00",1]}').decode()

    for altered in (f"{forged}:{stamp}:{signature}", f"{payload}:{stamp}:{signature[:-1]}B"):
        response = client.get("/api/v1/warnings/", {"cursor": altered, "page_size": 5})
        assert response.status_code == 400
        assert "signature does not match" in response.json()["cursor"][0]


def test_a_cursor_older_than_a_day_has_expired(client, duty_officer, history):
    client.force_login(duty_officer)
    with freeze_time(datetime.now(UTC) - timedelta(hours=25)):
        cursor = cursor_of(client, "/api/v1/warnings/?page_size=5")

    response = client.get("/api/v1/warnings/", {"cursor": cursor, "page_size": 5})

    assert response.status_code == 400
    assert "expired" in response.json()["cursor"][0]


def test_a_cursor_of_other_filters_or_another_person_is_refused(client, duty_officer, history):
    client.force_login(duty_officer)
    cursor = cursor_of(client, "/api/v1/warnings/?level=1&page_size=2")

    other_filters = client.get("/api/v1/warnings/", {"cursor": cursor, "level": 2, "page_size": 2})
    other_list = client.get("/api/v1/warnings/closed/", {"cursor": cursor, "level": 1, "page_size": 2})
    client.force_login(UserFactory(username="second-duty", roles=["duty_officer"]))
    other_person = client.get("/api/v1/warnings/", {"cursor": cursor, "level": 1, "page_size": 2})

    for response in (other_filters, other_list, other_person):
        assert response.status_code == 400
        assert "belongs to another list" in response.json()["cursor"][0]


def test_a_cursor_of_an_older_layout_asks_to_start_again(client, duty_officer, history):
    client.force_login(duty_officer)
    scope = api.listing_scope(path="/api/v1/warnings/", params={}, user_id=duty_officer.pk)
    for payload in ({"v": 0, "s": scope}, {"v": 1, "s": scope, "d": "n", "k": ["yesterday", 3]}, ["not", "a", "dict"]):
        cursor = signing.dumps(payload, salt=api.CURSOR_SALT)
        response = client.get("/api/v1/warnings/", {"cursor": cursor})
        assert response.status_code == 400
        assert "older version of the platform" in response.json()["cursor"][0]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"page": 2}, "page", "paged by cursor"),
        ({"page_size": 0}, "page_size", "from 1 to 200"),
        ({"page_size": "ten"}, "page_size", "from 1 to 200"),
        ({"page_size": 201}, "page_size", "from 1 to 200"),
        ({"page_size": ""}, "page_size", "from 1 to 200"),
        # Digits to str.isdigit(), not to int() (a 500 before) or not ASCII.
        ({"page_size": "²"}, "page_size", "from 1 to 200"),
        ({"page_size": "٣"}, "page_size", "from 1 to 200"),
        ({"opened_after": "last tuesday"}, "opened_after", "ISO 8601 date and time with its zone"),
    ],
)
def test_a_bad_page_request_is_a_400_naming_the_parameter(client, duty_officer, history, query, field, message):
    client.force_login(duty_officer)
    response = client.get("/api/v1/warnings/", query)
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


def test_a_large_list_gives_an_estimated_count_flagged_as_such(history, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE warning_warning")  # as autovacuum keeps it
    warnings = Warning.objects.all()

    assert api.count_estimated(warnings, exact_up_to=100) == (40, False)
    count, estimated = api.count_estimated(warnings, exact_up_to=10)
    assert estimated is True
    assert count >= 11
    # A list the planner reckons large is not counted at all.
    monkeypatch.setattr(api, "ESTIMATE_TRUSTED_FROM", 20)
    with CaptureQueriesContext(connection) as queries:
        assert api.count_estimated(warnings) == (40, True)
    assert [q["sql"].startswith("EXPLAIN") for q in queries] == [True]


def test_later_pages_repeat_the_first_pages_count_without_counting(client, duty_officer, history):
    client.force_login(duty_officer)
    first = client.get("/api/v1/warnings/?page_size=5").json()
    Warning.objects.filter(pk=history["warnings"][0].pk).delete()

    with CaptureQueriesContext(connection) as queries:
        second = client.get(first["next"]).json()

    assert second["count"] == first["count"] == 40
    assert not any("COUNT(" in q["sql"] or "EXPLAIN" in q["sql"] for q in queries)


def test_the_closed_warning_search_filters_by_time_sensor_and_district(client, duty_officer, history):
    client.force_login(duty_officer)
    closed = [w for w in history["warnings"] if w.status == WarningStatus.CLOSED]
    after, before = START + timedelta(hours=10), START + timedelta(hours=30)

    def search(**query):
        return [
            item["id"] for item in client.get("/api/v1/warnings/closed/", {**query, "page_size": 200}).json()["results"]
        ]

    assert search() == newest_first(closed)
    assert search(opened_after=after.isoformat(), opened_before=before.isoformat()) == newest_first(
        w for w in closed if after <= w.opened_at < before
    )
    assert search(search="gas-0003") == newest_first(w for w in closed if w.sensor.code == "GAS-0003")
    assert search(search="huizhou road") == newest_first(w for w in closed if "Huizhou" in w.sensor.name)
    assert search(search="huizhou", district="340102") == newest_first(w for w in closed if w.sensor.code == "GAS-0001")
    assert search(search="no such sensor") == []


def test_the_closed_warning_search_page_lists_and_pages_the_archive(client, duty_officer, history):
    client.force_login(duty_officer)
    closed = newest_first(w for w in history["warnings"] if w.status == WarningStatus.CLOSED)

    first = client.get("/warnings/closed/")

    assert first.status_code == 200
    assert [w.pk for w in first.context["page"].rows] == closed
    assert "38 closed warnings" in first.content.decode()
    assert "Handled 37" in first.content.decode()
    assert 'href="/warnings/closed/"' in first.content.decode()  # the navigation reaches it
    assert first.context["older"] is None


def test_the_closed_warning_search_page_filters_and_keeps_its_filters_across_pages(client, duty_officer, history):
    client.force_login(duty_officer)
    expected = newest_first(
        w for w in history["warnings"] if w.status == WarningStatus.CLOSED and w.sensor.district.code == "340104"
    )
    query = {"district": "340104", "opened_from": "2026-03-01", "opened_to": "2026-03-02"}

    from warning import views

    views_page_size, views.PAGE_SIZE = views.PAGE_SIZE, 4
    try:
        shown, url = [], "/warnings/closed/?" + "&".join(f"{k}={v}" for k, v in query.items())
        while url:
            response = client.get(url)
            assert response.status_code == 200
            shown += [w.pk for w in response.context["page"].rows]
            older = response.context["older"]
            url = f"/warnings/closed/{older}" if older else None
    finally:
        views.PAGE_SIZE = views_page_size

    # 2026-03-01 and 03-02 in Beijing time: from 16:00 UTC the day before to 16:00 UTC on 03-02.
    day_end = datetime(2026, 3, 2, 16, tzinfo=UTC)
    assert shown == [pk for pk in expected if Warning.objects.get(pk=pk).opened_at < day_end]
    assert shown


def test_the_closed_warning_search_page_explains_a_bad_cursor_or_period(client, duty_officer, history):
    client.force_login(duty_officer)

    bad_cursor = client.get("/warnings/closed/?cursor=garbage")
    bad_period = client.get("/warnings/closed/?opened_from=2026-03-05&opened_to=2026-03-01")

    assert bad_cursor.status_code == 400
    assert "The cursor is malformed" in bad_cursor.content.decode()
    assert bad_period.status_code == 400
    assert "comes before its start" in bad_period.content.decode()


def test_department_staff_cannot_search_closed_warnings(client, staff_a, history):
    client.force_login(staff_a)
    assert client.get("/warnings/closed/").status_code == 403
    assert client.get("/api/v1/warnings/closed/").status_code == 403
    assert 'href="/warnings/closed/"' not in client.get("/work-orders/").content.decode()


def plan_of(sql: str, params) -> str:
    with connection.cursor() as cursor:
        # Tiny test tables make a sequential scan the cheapest plan; with it
        # and sorting priced out, the plan shows whether an index can serve
        # the page's filter and order at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        # The planner's picture of the table must be this test's: statistics
        # autovacuum took while an earlier test of the same worker filled the
        # table (mostly open warnings, say) make a partial index look no
        # better than the full one.
        cursor.execute("ANALYZE warning_warning")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row for (row,) in cursor.fetchall())


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("", "warning_opened_idx"),
        ("level=2", "warning_level_opened_idx"),
        ("status=open", "warning_open_opened_idx"),
        ("level=1&district=340102", "warning_level_opened_idx"),
    ],
)
def test_a_deep_page_is_one_range_of_an_index_in_the_lists_order(client, duty_officer, history, query, index):
    client.force_login(duty_officer)
    cursor = cursor_of(client, f"/api/v1/warnings/?page_size=1&{query}")

    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/api/v1/warnings/?page_size=1&{query}&cursor={cursor}").status_code == 200
    keys = next(q["sql"] for q in queries if '("warning_warning"."opened_at", "warning_warning"."id") <' in q["sql"])
    with transaction.atomic():
        plan = plan_of(keys, None)

    assert index in plan
    assert "Sort" not in plan
    assert any("Index Cond:" in line and "ROW(opened_at, id) < ROW(" in line for line in plan.splitlines()), plan


def test_the_sensor_search_is_served_by_trigram_indexes(history):
    from monitoring.models import Sensor

    sensors = Sensor.objects.filter(Q(code__icontains="road valve") | Q(name__icontains="road valve"))
    sql, params = sensors.values("pk").query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        # Four sensors: scanning them is cheapest, unless priced out.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row for (row,) in cursor.fetchall())

    assert "warning_sensor_code_trgm" in plan
    assert "warning_sensor_name_trgm" in plan
