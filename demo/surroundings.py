"""The demo city's surroundings: in every district a few protection targets, resources, risk areas and a camera.

Written through the platform's own import (``surroundings.services.places_import``),
as GeoJSON, so the demo meets the same checks an office's file does. Only
what is missing is imported: a place an administrator changed stays as it is.
"""

import datetime
import json

from django.contrib.gis.geos import Point

from organisation.models import District
from surroundings.models import LAYERS
from surroundings.services import places_import

# (layer, code suffix, name after the district's, properties), each placed at its own offset from the
# district's inner point; the offsets (degrees) stay within a few kilometres.
PLACES = (
    ("targets", "SCH", "实验小学", {"kind": "school", "capacity": 1800}),
    ("targets", "HOS", "人民医院", {"kind": "hospital", "capacity": 900}),
    ("targets", "NRS", "社会福利院", {"kind": "nursing_home", "capacity": 240}),
    ("targets", "SHL", "中心公园应急避难场所", {"kind": "shelter", "capacity": 12000}),
    ("targets", "CRW", "万达广场", {"kind": "crowded_place", "capacity": 20000}),
    ("resources", "RES", "消防救援大队", {"kind": "rescue_team", "team_size": 45, "speciality": "燃气泄漏、城市内涝"}),
    (
        "resources",
        "DEP",
        "应急物资储备库",
        {"kind": "supply_depot", "stock": {"帐篷": 200, "沙袋": 5000, "排水泵": 12}},
    ),
    ("resources", "EXP", "燃气管网安全专家", {"kind": "expert", "speciality": "城镇燃气管网"}),
    ("resources", "EQP", "移动排涝泵车", {"kind": "equipment", "speciality": "排涝 3000 m³/h"}),
    ("cameras", "CAM", "主干道路口摄像头", {"stream_url": "https://video.example.cn/hls/{code}.m3u8"}),
    ("risk-areas", "HAZ", "加气站", {"kind": "hazard_source"}),
    ("risk-areas", "ZON", "老旧管网片区", {"kind": "risk_zone"}),
)
OFFSETS = ((0.0, 0.0), (0.012, 0.004), (-0.01, 0.008), (0.006, -0.011), (-0.008, -0.006), (0.016, -0.002))
AREA_HALF = {"hazard_source": 0.002, "risk_zone": 0.008}  # half the side of the square, degrees
ASSESSED_ON = datetime.date(2026, 3, 31)


def _spot(district: District, index: int) -> Point:
    """A point inside the district near its inner point: the first offset that stays inside."""
    inner = district.boundary.point_on_surface
    for step in range(len(OFFSETS)):
        dx, dy = OFFSETS[(index + step) % len(OFFSETS)]
        candidate = Point(round(inner.x + dx, 6), round(inner.y + dy, 6), srid=4326)
        if district.boundary.covers(candidate):
            return candidate
    return inner


def _feature(district: District, index: int, layer: str, suffix: str, name: str, properties: dict) -> dict:
    code = f"{district.code}-{suffix}"
    spot = _spot(district, index)
    properties = {**properties, "code": code, "name": f"{district.name}{name}"}
    if "stream_url" in properties:
        properties["stream_url"] = properties["stream_url"].format(code=code.lower())
    if layer == "risk-areas":
        half = AREA_HALF[properties["kind"]] / (2 if index % 2 else 1)
        properties.update(grade=1 + (int(district.code) + index) % 4, assessed_on=ASSESSED_ON.isoformat())
        x, y = spot.x, spot.y
        ring = [
            [x - half, y - half],
            [x + half, y - half],
            [x + half, y + half],
            [x - half, y + half],
            [x - half, y - half],
        ]
        geometry = {"type": "Polygon", "coordinates": [ring]}
    else:
        geometry = {"type": "Point", "coordinates": [spot.x, spot.y]}
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def load_surroundings(districts: dict[str, District]) -> int:
    """Import the places the demo city lacks; the number created."""
    created = 0
    for layer, model in LAYERS.items():
        existing = set(model.objects.values_list("code", flat=True))
        features = [
            _feature(district, index, layer, suffix, name, properties)
            for district in districts.values()
            for index, (place_layer, suffix, name, properties) in enumerate(PLACES)
            if place_layer == layer and f"{district.code}-{suffix}" not in existing
        ]
        if not features:
            continue
        document = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
        result = places_import(layer=layer, data=document.encode(), name=f"demo-{layer}.geojson")
        if result.errors:  # the demo's own data: a mistake in it is the demo's bug
            raise ValueError("; ".join(str(error) for error in result.errors))
        created += result.created
    return created
