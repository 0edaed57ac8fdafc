"""The one map's sensor layer: only what is in view, clustered when dense, each
cluster with its count and its worst member's state."""

import gzip
import json

import pytest
from django.contrib.gis.geos import Point
from django.urls import reverse

from dashboard import selectors
from monitoring.models import Sensor, SensorStatus
from tests.factories import DistrictFactory, SensorFactory, SensorTypeFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/map/sensors/"
CITY = "117.0,31.6,117.6,32.1"  # Hefei and around


def sensors_on_a_grid(*, columns: int, rows: int, west: float = 117.1, south: float = 31.7, step: float = 0.01):
    """columns x rows sensors, `step` degrees apart, all online and without warnings."""
    sensor_type = SensorTypeFactory()
    district = DistrictFactory()
    Sensor.objects.bulk_create(
        Sensor(
            code=f"G-{c:03d}-{r:03d}",
            name=f"Grid sensor {c}/{r}",
            sensor_type=sensor_type,
            district=district,
            location=Point(west + c * step, south + r * step, srid=4326),
            status=SensorStatus.ONLINE,
        )
        for c in range(columns)
        for r in range(rows)
    )


def get_map(client, bbox: str = CITY, zoom: float = 11, **query):
    response = client.get(URL, {"bbox": bbox, "zoom": zoom, **query})
    assert response.status_code == 200, response.content
    return response.json()


def test_the_map_url_is_under_the_api():
    assert reverse("api-map-sensors") == URL


def test_a_view_with_few_sensors_gets_them_one_by_one_and_nothing_outside_it(client, duty_officer):
    inside = SensorFactory(code="IN-1", location=Point(117.30, 31.85, srid=4326), status=SensorStatus.ONLINE)
    SensorFactory(code="OUT-1", location=Point(118.50, 31.85, srid=4326))
    client.force_login(duty_officer)

    body = get_map(client, bbox="117.2,31.8,117.4,31.9", zoom=14, totals=1)

    assert body["clustered"] is False
    assert body["clusters"] == []
    features = body["sensors"]["features"]
    assert [f["properties"]["code"] for f in features] == ["IN-1"]
    assert features[0]["geometry"]["coordinates"] == [117.3, 31.85]
    assert features[0]["properties"]["status"] == "online"
    assert features[0]["properties"]["id"] == inside.pk
    # The summary counts the whole city, not only the view.
    assert body["in_view"] == 1
    assert body["totals"]["sensors"] == 2


def test_a_dense_view_is_clustered_and_the_counts_add_up(client, duty_officer, monkeypatch):
    monkeypatch.setattr(selectors, "INDIVIDUAL_LIMIT", 10)
    sensors_on_a_grid(columns=20, rows=10)
    client.force_login(duty_officer)

    body = get_map(client, zoom=10)

    assert body["clustered"] is True
    assert body["sensors"]["features"] == []
    assert body["in_view"] == 200
    assert sum(cluster["count"] for cluster in body["clusters"]) == 200
    assert 1 < len(body["clusters"]) < 40
    for cluster in body["clusters"]:
        west, south, east, north = cluster["bounds"]
        assert west <= cluster["lng"] <= east
        assert south <= cluster["lat"] <= north
        assert cluster["level"] is None
        assert cluster["status"] == "online"
        assert cluster["statuses"] == {"online": cluster["count"]}


def test_a_cluster_holding_a_level_1_sensor_is_level_1_whatever_the_rest(client, duty_officer, monkeypatch):
    monkeypatch.setattr(selectors, "INDIVIDUAL_LIMIT", 10)
    sensors_on_a_grid(columns=20, rows=10)
    Sensor.objects.filter(code="G-005-005").update(warning_level=1)
    Sensor.objects.filter(code="G-005-006").update(warning_level=3)
    Sensor.objects.filter(code="G-015-005").update(status=SensorStatus.OFFLINE)
    client.force_login(duty_officer)

    clusters = get_map(client, zoom=10)["clusters"]

    red = [c for c in clusters if c["level"] == 1]
    assert len(red) == 1
    assert red[0]["levels"] == {"1": 1, "3": 1}
    assert sum(c["levels"].get("3", 0) for c in clusters) == 1
    offline = [c for c in clusters if c["status"] == "offline"]
    assert len(offline) == 1
    assert offline[0]["statuses"]["offline"] == 1
    assert offline[0]["level"] is None


def test_zooming_in_splits_the_clusters(client, duty_officer, monkeypatch):
    monkeypatch.setattr(selectors, "INDIVIDUAL_LIMIT", 10)
    sensors_on_a_grid(columns=20, rows=10)
    client.force_login(duty_officer)

    counts = [len(get_map(client, zoom=zoom)["clusters"]) for zoom in (9, 11, 13)]

    assert counts[0] < counts[1] < counts[2]


def test_the_grid_stays_put_when_the_map_pans(client, duty_officer, monkeypatch):
    monkeypatch.setattr(selectors, "INDIVIDUAL_LIMIT", 10)
    sensors_on_a_grid(columns=20, rows=10)
    client.force_login(duty_officer)

    before = get_map(client, bbox="117.0,31.6,117.6,32.1", zoom=11)["clusters"]
    after = get_map(client, bbox="117.01,31.61,117.61,32.11", zoom=11)["clusters"]

    assert sorted((c["lng"], c["lat"], c["count"]) for c in before) == sorted(
        (c["lng"], c["lat"], c["count"]) for c in after
    )


def test_department_staff_see_only_the_sensors_their_department_owns(client, staff_a, department_a):
    SensorFactory(code="MINE", owner_department=department_a, location=Point(117.3, 31.85, srid=4326))
    SensorFactory(code="THEIRS", location=Point(117.3, 31.86, srid=4326))
    client.force_login(staff_a)

    body = get_map(client, zoom=14, bbox="117.2,31.8,117.4,31.9", totals="true")

    assert [f["properties"]["code"] for f in body["sensors"]["features"]] == ["MINE"]
    assert body["totals"]["sensors"] == 1


def test_the_city_totals_come_only_when_asked_for(client, duty_officer, monkeypatch):
    monkeypatch.setattr(selectors, "INDIVIDUAL_LIMIT", 10)
    sensors_on_a_grid(columns=5, rows=4)
    Sensor.objects.filter(code="G-000-000").update(status=SensorStatus.OFFLINE)
    client.force_login(duty_officer)

    assert "totals" not in get_map(client)
    assert "totals" not in get_map(client, totals=0)
    totals = get_map(client, bbox="117.0,31.6,117.05,31.65", zoom=14, totals=1)["totals"]

    assert totals == {"sensors": 20, "statuses": {"online": 19, "offline": 1}}


def test_the_answer_is_compressed_for_a_browser_that_takes_gzip(client, duty_officer):
    sensors_on_a_grid(columns=10, rows=5)
    client.force_login(duty_officer)

    response = client.get(URL, {"bbox": CITY, "zoom": 14}, HTTP_ACCEPT_ENCODING="gzip, deflate, br")

    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    body = json.loads(gzip.decompress(response.content))
    assert len(body["sensors"]["features"]) == 50


def test_the_map_reads_the_database_a_fixed_number_of_times(client, duty_officer, django_assert_max_num_queries):
    sensors_on_a_grid(columns=10, rows=10)
    client.force_login(duty_officer)
    get_map(client)  # the session and the user, once
    # Session, user; the clusters (a savepoint around SET LOCAL and the query:
    # four statements in a test's transaction); the totals; the sensors one by one;
    # which of them are silenced (the maintenance marker).

    with django_assert_max_num_queries(10):
        get_map(client, zoom=14, totals=1)
    with django_assert_max_num_queries(10):
        get_map(client, zoom=9, totals=1)


def test_anonymous_visitors_get_no_map(client):
    assert client.get(URL, {"bbox": CITY, "zoom": 11}).status_code in {401, 403}


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"zoom": "11"}, "bbox", "bbox=west,south,east,north"),
        ({"bbox": "117,31,118", "zoom": "11"}, "bbox", "four numbers"),
        ({"bbox": "117,31,east,32", "zoom": "11"}, "bbox", "must be a number"),
        ({"bbox": "117,31,nan,32", "zoom": "11"}, "bbox", "finite"),
        ({"bbox": "118,31,117,32", "zoom": "11"}, "bbox", "west <= east"),
        ({"bbox": "117,32,118,31", "zoom": "11"}, "bbox", "south <= north"),
        ({"bbox": CITY}, "zoom", "zoom="),
        ({"bbox": CITY, "zoom": "near"}, "zoom", "must be a number"),
        ({"bbox": CITY, "zoom": "40"}, "zoom", "between 0 and 22"),
        ({"bbox": CITY, "zoom": "-1"}, "zoom", "between 0 and 22"),
        ({"bbox": CITY, "zoom": "inf"}, "zoom", "finite"),
        ({"bbox": CITY, "zoom": "11", "totals": "yes"}, "totals", "1 or 0"),
    ],
)
def test_a_malformed_view_gets_a_400_that_says_what_is_wrong(client, duty_officer, query, field, words):
    client.force_login(duty_officer)

    response = client.get(URL, query, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400, response.content
    message = response.json()[field][0]
    assert words in message, message


def test_a_view_that_wraps_past_the_date_line_is_clamped_not_refused(client, duty_officer):
    SensorFactory(location=Point(117.3, 31.85, srid=4326))
    client.force_login(duty_officer)

    body = get_map(client, bbox="-540,-100,540,100", zoom=0)

    assert body["in_view"] == 1


@pytest.mark.parametrize("bbox", ["0,0,0,0", "117.3,31.85,117.3,31.85", "117.3,31.8,117.3,31.9"])
def test_a_view_of_no_width_or_height_is_answered_not_refused(client, duty_officer, bbox):
    SensorFactory(location=Point(117.3, 31.85, srid=4326))
    client.force_login(duty_officer)

    body = get_map(client, bbox=bbox, zoom=22)

    assert body["in_view"] == (0 if bbox == "0,0,0,0" else 1)
