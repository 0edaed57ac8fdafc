"""The surroundings layers: city reference data every signed-in person reads, anonymous visitors not."""

import datetime

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from surroundings.models import Camera, EmergencyResource, ProtectionTarget, RiskArea

BOX = "117.0,31.7,117.4,32.0"


@pytest.fixture
def school(city):
    return ProtectionTarget.objects.create(
        code="S-1",
        name="<img src=x onerror=alert(1)>",
        kind="school",
        location=Point(117.1, 31.8, srid=4326),
        district=city["west"],
        capacity=900,
    )


@pytest.mark.parametrize("persona", ["duty_officer", "staff_a", "staff_b"])
def test_every_signed_in_person_reads_the_layers(client, request, persona, school):
    client.force_login(request.getfixturevalue(persona))
    answer = client.get("/api/v1/surroundings/targets/", {"bbox": BOX})
    assert answer.status_code == 200
    body = answer.json()
    assert body["type"] == "FeatureCollection"
    (feature,) = body["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [117.1, 31.8]}
    assert feature["properties"]["name"] == "<img src=x onerror=alert(1)>"
    assert feature["properties"]["capacity"] == 900


@pytest.mark.parametrize("layer", ["targets", "resources", "risk-areas", "cameras"])
def test_anonymous_visitors_do_not(client, layer, school):
    answer = client.get(f"/api/v1/surroundings/{layer}/", {"bbox": BOX})
    assert answer.status_code in (401, 403)
    assert "onerror" not in answer.content.decode()


def test_the_box_filters_and_a_bad_box_is_refused(client, duty_officer, school):
    client.force_login(duty_officer)
    assert client.get("/api/v1/surroundings/targets/", {"bbox": "117.3,31.7,117.4,32.0"}).json()["features"] == []
    bad = client.get("/api/v1/surroundings/targets/", {"bbox": "1,2,3"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400
    assert "bbox needs four numbers" in bad.content.decode()


def test_each_layer_answers_its_places_with_their_own_fields(client, staff_a, city):
    here = Point(117.1, 31.8, srid=4326)
    EmergencyResource.objects.create(code="D-1", name="Depot", kind="supply_depot", location=here, stock={"tents": 2})
    RiskArea.objects.create(
        code="R-1",
        name="Tank farm",
        kind="hazard_source",
        grade=2,
        assessed_on=datetime.date(2026, 3, 31),
        boundary=MultiPolygon(Polygon(((117.05, 31.75), (117.15, 31.75), (117.15, 31.85), (117.05, 31.75)))),
    )
    Camera.objects.create(code="C-1", name="Gate", location=here, stream_url="https://video.example.cn/c1.m3u8")
    client.force_login(staff_a)
    expected = {
        "resources": {"stock": {"tents": 2}, "kind": "supply_depot"},
        "risk-areas": {"grade": 2, "assessed_on": "2026-03-31"},
        "cameras": {"stream_url": "https://video.example.cn/c1.m3u8"},
    }
    for layer, properties in expected.items():
        (feature,) = client.get(f"/api/v1/surroundings/{layer}/", {"bbox": BOX}).json()["features"]
        assert properties.items() <= feature["properties"].items(), layer
