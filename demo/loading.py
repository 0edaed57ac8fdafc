"""Loading the demo city into the database.

``load_demo_city`` writes the catalogue and the geography idempotently: a
second run updates rows in place and creates nothing new, and what an
administrator may change afterwards (thresholds, routing, passwords) is
written once and then left alone.
"""

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from demo.catalogue import (
    DEPARTMENT_PASSWORD,
    DEPARTMENTS,
    DOMAINS,
    LEVEL_NAMES,
    SENSOR_TYPES,
    USERS,
    SensorTypeSpec,
    UserSpec,
    plan_actions,
)
from demo.geography import DistrictShape, PlacedSensor, hefei_districts, place_sensors, to_geos_multipolygon
from demo.surroundings import load_surroundings
from dispatch.models import ResponsePlan, ResponsePlanAction, RoutingPolicy
from monitoring.locations import sensors_place
from monitoring.models import Gateway, RiskDomain, Sensor, SensorType
from monitoring.services import gateway_create
from organisation.models import Department, DepartmentKind, District, DutyShift, Membership, Shift
from organisation.roles import DEPARTMENT_STAFF
from warning.models import Direction, Level, ThresholdRule


@dataclass(frozen=True)
class LoadSummary:
    districts: int
    domains: int
    sensor_types: int
    threshold_rules: int
    departments: int
    routing_policies: int
    response_plans: int
    gateways: int
    gateways_created: int
    sensors: int
    sensors_created: int
    users: int
    seconds: float
    surroundings_created: int = 0


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
        plans = load_response_plans(domains)
        gateways, gateways_created = load_gateways()
        sensors_created = load_sensors(placements, sensor_types, districts, departments, gateways)
        users = load_users(departments)
        load_duty_roster(departments)
        surroundings_created = load_surroundings(districts)
    return LoadSummary(
        districts=len(districts),
        domains=len(domains),
        sensor_types=len(sensor_types),
        threshold_rules=rules,
        departments=len(departments),
        routing_policies=policies,
        response_plans=plans,
        gateways=len(gateways),
        gateways_created=gateways_created,
        sensors=len(placements),
        sensors_created=sensors_created,
        users=users,
        seconds=time.monotonic() - started,
        surroundings_created=surroundings_created,
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
        sensor_type = sensor_types[spec.code]
        if ThresholdRule.objects.filter(sensor_type=sensor_type, sensor=None).exists():
            continue  # created once, then the administrator's: a reload keeps edits
        # A copy, so the catalogue's rule stays unsaved for the simulator and the tests.
        rule = copy.copy(spec.rule)
        rule.sensor_type = sensor_type
        rule.name = rule_name(spec)
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


def load_response_plans(domains: dict[str, RiskDomain]) -> int:
    """A plan per domain and level. Created once, then the administrator's: a reload keeps edits."""
    count = 0
    for spec in DOMAINS:
        for level in (Level.III, Level.II, Level.I):
            plan, created = ResponsePlan.objects.get_or_create(
                domain=domains[spec.code],
                level=level,
                defaults={"title": f"{spec.name}{LEVEL_NAMES[level]}响应预案"},
            )
            if created:
                ResponsePlanAction.objects.bulk_create(
                    ResponsePlanAction(plan=plan, department_kind=kind, text=text, position=position)
                    for position, (kind, text) in enumerate(plan_actions(spec.code, level))
                )
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
    # The platform's own rule, as for a sensor added in the admin: a point
    # off the city's map, or in another district than the catalogue says,
    # stops the load (LocationError) instead of misrouting its warnings.
    points = [Point(p.longitude, p.latitude, srid=4326) for p in placements]
    placed = sensors_place(
        [(p.code, point, districts[p.district_code]) for p, point in zip(placements, points, strict=True)]
    )
    rows = [
        Sensor(
            code=p.code,
            name=p.name,
            sensor_type=sensor_types[p.type_code],
            location=point,
            district=district,
            owner_department=departments[p.owner],
            gateway=gateways[gateway_of_owner[p.owner]],
            is_active=True,
        )
        for p, point, district in zip(placements, points, placed, strict=True)
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


# Days of the demo roster around today: a city left running for a week still has one.
ROSTER_DAYS = range(-1, 8)


def load_duty_roster(departments: dict[str, Department]) -> int:
    """Who is on duty in the demo city: the duty officer at the city centre with the
    administrator as leader; in each department its own account, leading itself.

    Rows that exist are left as an administrator may have edited them.
    """
    user_model = get_user_model()
    accounts = {spec.department: spec.username for spec in USERS if spec.department}
    users = {user.username: user for user in user_model.objects.all()}
    today = timezone.localdate()
    created = 0
    for offset in ROSTER_DAYS:
        day = today + timedelta(days=offset)
        _row, made = DutyShift.objects.get_or_create(
            department=None,
            date=day,
            shift=Shift.ALL_DAY,
            defaults={"person_on_duty": users["duty"], "leader_on_duty": users["admin"]},
        )
        created += made
        for code, department in departments.items():
            person = users[accounts.get(code, code)]
            _row, made = DutyShift.objects.get_or_create(
                department=department,
                date=day,
                shift=Shift.ALL_DAY,
                defaults={"person_on_duty": person, "leader_on_duty": person},
            )
            created += made
    return created
