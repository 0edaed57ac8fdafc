"""A sensor's district follows from where it stands; points off the city's map are refused.

Through the real admin (the form an administrator posts) and through the
demo city's loader, the other path that places sensors.
"""

import json
from types import SimpleNamespace

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from citysafety.errors import InvalidInputError
from demo.geography import PlacedSensor
from demo.loading import load_sensors
from monitoring import locations
from monitoring.models import Sensor
from tests.factories import DepartmentFactory, DistrictFactory, GatewayFactory, SensorFactory, SensorTypeFactory

NO_RULES = {"threshold_rules-TOTAL_FORMS": "0", "threshold_rules-INITIAL_FORMS": "0"}

# Two neighbouring districts of a small city: west of 117.2 and east of it.
WEST = ((117.0, 31.7), (117.2, 31.7), (117.2, 32.0), (117.0, 32.0), (117.0, 31.7))
EAST = ((117.2, 31.7), (117.4, 31.7), (117.4, 32.0), (117.2, 32.0), (117.2, 31.7))
IN_WEST, IN_EAST = (117.1, 31.8), (117.3, 31.85)
BEIJING = (116.40, 39.90)


@pytest.fixture
def city(db):
    return {
        "west": DistrictFactory(code="340104", name="Shushan", boundary=MultiPolygon(Polygon(WEST))),
        "east": DistrictFactory(code="340111", name="Baohe", boundary=MultiPolygon(Polygon(EAST))),
    }


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _point(lon_lat: tuple[float, float]) -> str:
    return json.dumps({"type": "Point", "coordinates": list(lon_lat)})


def _add_sensor(admin_client, where: tuple[float, float], **fields):
    return admin_client.post(
        "/admin/monitoring/sensor/add/",
        {
            "code": "GAS-0001",
            "name": "Valve well",
            "sensor_type": SensorTypeFactory().pk,
            "is_active": "on",
            "location": _point(where),
            **fields,
            **NO_RULES,
        },
    )


def _errors(response) -> dict[str, list[str]]:
    form = response.context["adminform"].form
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


# --- The module -------------------------------------------------------------------------


def test_the_district_is_the_one_whose_boundary_covers_the_point(city):
    assert locations.district_at(Point(*IN_WEST, srid=4326)) == city["west"]
    assert locations.district_at(Point(*IN_EAST, srid=4326)) == city["east"]
    assert locations.district_at(Point(*BEIJING, srid=4326)) is None
    # A latitude of 117 is no place at all, not an error of the database.
    assert locations.district_at(Point(31.8, 117.1, srid=4326)) is None


def test_many_points_are_placed_in_one_query(city, django_assert_num_queries):
    with django_assert_num_queries(1):
        found = locations.districts_at([IN_EAST, BEIJING, IN_WEST])

    assert found == [city["east"].pk, None, city["west"].pk]


def test_a_point_outside_the_city_is_refused_and_a_swap_is_named(city):
    with pytest.raises(locations.LocationError, match="outside every district of the city") as outside:
        locations.sensor_place(location=Point(*BEIJING, srid=4326))
    assert "swapped" not in str(outside.value)

    with pytest.raises(locations.LocationError) as swapped:
        locations.sensor_place(location=Point(31.85, 117.3, srid=4326))
    assert "outside every district of the city" in str(swapped.value)
    assert "Longitude and latitude seem swapped: longitude 117.3, latitude 31.85 lies in Baohe." in str(swapped.value)
    assert swapped.value.field == "location"


# --- The admin ----------------------------------------------------------------------------


def test_an_added_sensor_takes_the_district_its_point_lies_in(admin_client, city):
    response = _add_sensor(admin_client, IN_EAST)

    assert response.status_code == 302, _errors(response)
    assert Sensor.objects.get(code="GAS-0001").district == city["east"]


def test_a_sensor_in_another_city_is_refused_by_the_admin(admin_client, city):
    response = _add_sensor(admin_client, BEIJING, district=city["west"].pk)

    assert response.status_code == 200
    (message,) = _errors(response)["location"]
    assert message.startswith("The location (longitude 116.4, latitude 39.9) lies outside every district of the city.")
    assert not Sensor.objects.filter(code="GAS-0001").exists()


def test_swapped_coordinates_are_refused_with_the_swap_named(admin_client, city):
    response = _add_sensor(admin_client, (31.85, 117.3))

    (message,) = _errors(response)["location"]
    assert "outside every district of the city" in message
    assert "Longitude and latitude seem swapped: longitude 117.3, latitude 31.85 lies in Baohe." in message
    assert "Longitude and latitude seem swapped" in response.content.decode()
    assert not Sensor.objects.exists()


def test_a_district_chosen_against_the_location_is_refused_unless_overridden(admin_client, city):
    refused = _add_sensor(admin_client, IN_EAST, district=city["west"].pk)

    (message,) = _errors(refused)["district"]
    assert "lies in Baohe, not in Shushan" in message
    assert "Set the district by hand" in message
    assert not Sensor.objects.exists()

    kept = _add_sensor(admin_client, IN_EAST, district=city["west"].pk, district_override="on")

    assert kept.status_code == 302, _errors(kept)
    assert Sensor.objects.get(code="GAS-0001").district == city["west"]


def test_the_override_needs_a_district_and_a_point_in_the_city(admin_client, city):
    no_district = _add_sensor(admin_client, IN_EAST, district_override="on")
    off_the_map = _add_sensor(admin_client, BEIJING, district=city["west"].pk, district_override="on")

    assert "Choose the district that handles this sensor" in _errors(no_district)["district"][0]
    assert "outside every district of the city" in _errors(off_the_map)["location"][0]
    assert not Sensor.objects.exists()


def test_moving_a_sensor_moves_its_district(admin_client, city):
    sensor = SensorFactory(code="GAS-0001", location=Point(*IN_WEST, srid=4326), district=city["west"])

    response = admin_client.post(
        f"/admin/monitoring/sensor/{sensor.pk}/change/",
        {
            "code": sensor.code,
            "name": sensor.name,
            "sensor_type": sensor.sensor_type_id,
            "is_active": "on",
            "location": _point(IN_EAST),
            "district": city["west"].pk,
            **NO_RULES,
        },
    )

    assert response.status_code == 302, _errors(response)
    sensor.refresh_from_db()
    assert sensor.district == city["east"]


def test_an_overridden_district_stays_when_other_fields_change(admin_client, city):
    sensor = SensorFactory(code="GAS-0001", location=Point(*IN_EAST, srid=4326), district=city["west"])

    response = admin_client.post(
        f"/admin/monitoring/sensor/{sensor.pk}/change/",
        {
            "code": sensor.code,
            "name": "Renamed",
            "sensor_type": sensor.sensor_type_id,
            "is_active": "on",
            "location": _point(IN_EAST),
            "district": city["west"].pk,
            **NO_RULES,
        },
    )

    assert response.status_code == 302, _errors(response)
    sensor.refresh_from_db()
    assert (sensor.name, sensor.district) == ("Renamed", city["west"])


def test_a_stored_sensor_off_the_map_must_be_fixed_before_it_is_saved_again(admin_client, city):
    sensor = SensorFactory(code="GAS-0001", location=Point(*BEIJING, srid=4326), district=city["west"])

    response = admin_client.post(
        f"/admin/monitoring/sensor/{sensor.pk}/change/",
        {
            "code": sensor.code,
            "name": "Renamed",
            "sensor_type": sensor.sensor_type_id,
            "is_active": "on",
            "location": _point(BEIJING),
            "district": city["west"].pk,
            **NO_RULES,
        },
    )

    assert "outside every district of the city" in _errors(response)["location"][0]
    sensor.refresh_from_db()
    assert sensor.name != "Renamed"


# --- The demo city's loader ---------------------------------------------------------------


def _placement(code: str, district_code: str, lon_lat: tuple[float, float]) -> PlacedSensor:
    return PlacedSensor(
        code=code,
        name=code,
        type_code="methane",
        district_code=district_code,
        owner="gas-co",
        longitude=lon_lat[0],
        latitude=lon_lat[1],
    )


@pytest.fixture
def load(city, monkeypatch):
    """The demo loader's sensor step, with one owner, gateway and type of its own."""
    monkeypatch.setattr("demo.loading.DEPARTMENTS", [SimpleNamespace(code="gas-co", gateway="gw-gas")])
    owners = {"gas-co": DepartmentFactory(code="gas-co")}
    gateways = {"gw-gas": GatewayFactory(code="gw-gas")}
    types = {"methane": SensorTypeFactory()}
    districts = {d.code: d for d in city.values()}
    return lambda placements: load_sensors(placements, types, districts, owners, gateways)


def test_the_demo_loader_places_its_sensors_by_the_same_rule(city, load):
    assert load([_placement("GAS-0001", "340111", IN_EAST)]) == 1
    assert Sensor.objects.get(code="GAS-0001").district == city["east"]

    with pytest.raises(InvalidInputError, match=r"GAS-0002.*outside every district of the city"):
        load([_placement("GAS-0002", "340111", BEIJING)])
    with pytest.raises(InvalidInputError, match=r"GAS-0003.*lies in Shushan, not in Baohe"):
        load([_placement("GAS-0003", "340111", IN_WEST)])
    assert not Sensor.objects.filter(code__in=["GAS-0002", "GAS-0003"]).exists()
