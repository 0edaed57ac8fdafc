"""Importing the surroundings: CSV (UTF-8, GB18030), Excel, GeoJSON; bad rows listed, good rows kept."""

import io
import json

import openpyxl
import pytest
from django.contrib.gis.geos import Point

from citysafety.tables import TableError
from surroundings.models import Camera, EmergencyResource, ProtectionTarget, RiskArea
from surroundings.selectors import near
from surroundings.services import places_import

HEADER = "code,name,kind,capacity,contact_name,contact_phone,longitude,latitude\n"


def test_a_gb18030_csv_is_read_and_a_second_import_changes_nothing(city):
    data = (
        HEADER + "S-1,合肥一中,学校,3200,王老师,0551-1234567,117.1,31.8\nH-1,省立医院,hospital,,,,117.3,31.85\n"
    ).encode("gb18030")
    first = places_import(layer="targets", data=data, name="targets.csv")
    assert (first.created, first.updated, first.unchanged, first.errors) == (2, 0, 0, [])
    school = ProtectionTarget.objects.get(code="S-1")
    assert (school.name, school.kind, school.capacity, school.district.name) == ("合肥一中", "school", 3200, "Shushan")
    stamp = school.updated_at
    second = places_import(layer="targets", data=data, name="targets.csv")
    assert (second.created, second.updated, second.unchanged) == (0, 0, 2)
    school.refresh_from_db()
    assert school.updated_at == stamp
    assert ProtectionTarget.objects.count() == 2


def test_bad_rows_are_named_by_row_and_column_and_good_rows_are_kept(city):
    data = (
        HEADER
        + "S-1,School,school,12,,,117.1,31.8\n"
        + "S-2,,castle,-3,,,abc,31.8\n"
        + "S-3,Far away,school,,,,116.4,39.9\n"
        + "S-4,Swapped,school,,,,31.85,117.3\n"
        + "S-1,Again,school,,,,117.1,31.8\n"
    ).encode()
    result = places_import(layer="targets", data=data, name="t.csv")
    assert result.created == 1
    messages = [str(error) for error in result.errors]
    assert "Row 3, column “name”: is empty; it is required." in messages
    assert any(m.startswith("Row 3, column “kind”: “castle” is not one of school (School)") for m in messages)
    assert "Row 3, column “capacity”: “-3” is not a whole number of 0 or more." in messages
    assert "Row 3, column “longitude”: “abc” is not a number of degrees." in messages
    assert any(
        m.startswith("Row 4, column “longitude”: The location") and "outside every district" in m for m in messages
    )
    swapped = next(m for m in messages if m.startswith("Row 5"))
    assert "Longitude and latitude seem swapped: longitude 117.3, latitude 31.85 lies in Baohe." in swapped
    assert "Row 6, column “code”: “S-1” is already on row 2." in messages
    assert result.refused == 4
    assert result.summary() == "1 created; 0 updated; 0 unchanged; 4 rows refused"


def test_geojson_with_a_clockwise_polygon_is_stored_counter_clockwise(city):
    clockwise = [[117.05, 31.75], [117.05, 31.85], [117.15, 31.85], [117.15, 31.75], [117.05, 31.75]]
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [clockwise]},
                "properties": {
                    "code": "R-1",
                    "name": "Gas storage",
                    "kind": "hazard_source",
                    "grade": "red",
                    "assessed_on": "2026-03-31",
                },
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [117.1, 31.8]},
                "properties": {"code": "R-2"},
            },
            {"type": "Nonsense"},
        ],
    }
    result = places_import(layer="risk-areas", data=json.dumps(document).encode(), name="risk.geojson")
    assert result.created == 1
    area = RiskArea.objects.get(code="R-1")
    assert area.grade == 1
    assert area.district.name == "Shushan"
    assert area.boundary[0].exterior_ring.is_counterclockwise
    messages = [str(error) for error in result.errors]
    assert "Feature 2, property “geometry”: is a Point; a risk area is a Polygon or a MultiPolygon." in messages
    assert "Feature 2, property “name”: is empty; it is required." in messages
    assert "Feature 3: is not a GeoJSON Feature." in messages
    assert result.refused_by_row()[0][0] == "Feature 2"
    again = places_import(layer="risk-areas", data=json.dumps(document).encode(), name="risk.geojson")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_an_excel_sheet_of_resources_with_stock_is_read(city):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["code", "name", "kind", "team_size", "speciality", "stock", "longitude", "latitude"])
    sheet.append(["D-1", "Depot", "supply_depot", None, "", "tents:200; water (boxes):500", 117.3, 31.9])
    sheet.append(["T-1", "Team", "救援队伍", 30, "gas leaks", "", 117.1, 31.9])
    sheet.append(["D-2", "Depot 2", "supply_depot", None, "", "tents", 117.3, 31.9])
    buffer = io.BytesIO()
    book.save(buffer)
    result = places_import(layer="resources", data=buffer.getvalue(), name="resources.xlsx")
    assert EmergencyResource.objects.get(code="D-1").stock == {"tents": 200, "water (boxes)": 500}
    assert [str(e) for e in result.errors] == [
        "Row 4, column “stock”: “tents” is not item:quantity; write the stock as tents:200; water (boxes):500."
    ]
    assert result.created == 2
    team = EmergencyResource.objects.get(code="T-1")
    assert (team.kind, team.team_size, team.speciality) == (
        "rescue_team",
        30,
        "gas leaks",
    )  # the kind by its Chinese label


def test_a_camera_stream_must_be_http_or_https(city):
    data = (
        b"code,name,stream_url,longitude,latitude\n"
        b"C-1,Gate,https://video.example.cn/live/c1.m3u8,117.1,31.8\n"
        b"C-2,Gate,javascript:alert(1),117.1,31.8\n"
    )
    result = places_import(layer="cameras", data=data, name="cameras.csv")
    assert list(Camera.objects.values_list("code", flat=True)) == ["C-1"]
    assert [str(e) for e in result.errors] == [
        "Row 3, column “stream_url”: “javascript:alert(1)” is not an http:// or https:// address."
    ]


def test_a_file_that_is_not_geojson_is_refused_as_a_whole(city):
    with pytest.raises(TableError, match="line 1, column 2 is not JSON"):
        places_import(layer="targets", data=b"{nope", name="x.geojson")
    with pytest.raises(TableError, match="not a GeoJSON FeatureCollection"):
        places_import(layer="targets", data=b'{"type": "Point"}', name="x.json")


def test_places_near_a_point_are_measured_in_metres(city):
    data = (HEADER + "A,Near,school,,,,117.1,31.8\nB,Far,school,,,,117.12,31.8\n").encode()
    places_import(layer="targets", data=data, name="t.csv")
    found = list(near(ProtectionTarget.objects.all(), Point(117.1, 31.801, srid=4326), 500))
    assert [p.code for p in found] == ["A"]
    assert 100 < found[0].distance_m < 120


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (None, "Feature 1, property “geometry”: is empty; it is required."),
        (
            {"type": "Polygon", "coordinates": "nope"},
            "Feature 1, property “geometry”: is neither WKT nor a GeoJSON geometry.",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[117.05, 31.75], [117.15, 31.85], [117.15, 31.75], [117.05, 31.85], [117.05, 31.75]]],
            },
            "Feature 1, property “geometry”: is not a valid polygon: Self-intersection",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[31.75, 117.05], [31.75, 117.15], [31.85, 117.15], [31.85, 117.05], [31.75, 117.05]]],
            },
            "Longitude and latitude seem swapped",
        ),
    ],
)
def test_a_risk_area_with_a_bad_geometry_is_refused_saying_why(city, geometry, message):
    properties = {"code": "R-1", "name": "Area", "kind": "risk_zone", "grade": "4", "assessed_on": "2026-01-05"}
    document = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": geometry, "properties": properties}],
    }
    result = places_import(layer="risk-areas", data=json.dumps(document).encode(), name="areas.geojson")
    assert result.created == 0
    (error,) = result.errors
    assert message in str(error)
    assert not RiskArea.objects.exists()
