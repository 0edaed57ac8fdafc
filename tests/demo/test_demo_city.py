"""The demo city as load_demo_city leaves it, and simulate_readings posting its sensors."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count, F
from django.test import override_settings
from django.utils import timezone

from demo.catalogue import (
    DEMO_GATEWAYS,
    DEPARTMENT_PASSWORD,
    DEPARTMENTS,
    DOMAINS,
    LIFELINE_DOMAINS,
    SENSOR_TYPES,
    USERS,
)
from demo.geography import URBAN_DISTRICTS
from dispatch.models import RoutingPolicy
from monitoring.models import Gateway, RiskDomain, Sensor, SensorType
from organisation.models import Department, DepartmentKind, District, DutyShift, Membership
from organisation.roles import ADMINISTRATOR, DEPARTMENT_STAFF, DUTY_OFFICER
from surroundings.choices import ResourceKind, RiskGrade, TargetKind
from surroundings.models import Camera, EmergencyResource, ProtectionTarget, RiskArea
from warning.models import ThresholdRule

HEFEI = {
    "340102": "瑶海区",
    "340103": "庐阳区",
    "340104": "蜀山区",
    "340111": "包河区",
    "340121": "长丰县",
    "340122": "肥东县",
    "340123": "肥西县",
    "340124": "庐江县",
    "340181": "巢湖市",
}
# PBKDF2 with Django's iteration count costs a quarter second per password;
# these tests are about who can sign in, not about the hash.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module")
def demo_city(django_db_setup, django_db_blocker):
    """The city loaded once for the module and rolled back after its last test.

    Each test runs in a savepoint inside this transaction (pytest-django's
    ``db``), so no test sees another's changes and nothing leaks out.
    """
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS), transaction.atomic():
        call_command("load_demo_city", stdout=StringIO())
        yield
        transaction.set_rollback(True)


pytestmark = pytest.mark.usefixtures("demo_city", "db")


def row_counts() -> dict[str, int]:
    models = (
        District,
        RiskDomain,
        SensorType,
        ThresholdRule,
        Sensor,
        Gateway,
        Department,
        RoutingPolicy,
        Membership,
        DutyShift,
        ProtectionTarget,
        EmergencyResource,
        RiskArea,
        Camera,
    )
    counts = {model.__name__: model.objects.count() for model in models}
    counts["User"] = get_user_model().objects.count()
    counts["routing departments"] = RoutingPolicy.departments.through.objects.count()
    return counts


def test_the_nine_districts_of_hefei_are_loaded_with_their_codes():
    assert dict(District.objects.values_list("code", "name")) == HEFEI


def test_district_boundaries_are_valid_with_rfc_7946_winding():
    for district in District.objects.all():
        assert district.boundary.valid, district.name
        for polygon in district.boundary:
            assert polygon.exterior_ring.is_counterclockwise, district.name
            assert not any(ring.is_counterclockwise for ring in polygon[1:]), district.name
    # And as PostGIS sees the stored rows (ST_IsPolygonCCW also checks holes).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM organisation_district WHERE ST_IsValid(boundary) AND ST_IsPolygonCCW(boundary)"
        )
        assert cursor.fetchone()[0] == len(HEFEI)


def test_hundreds_of_sensors_each_stand_inside_their_own_district():
    total = Sensor.objects.count()

    inside = Sensor.objects.filter(location__within=F("district__boundary")).count()

    assert total >= 500
    assert inside == total


def test_most_sensors_are_in_the_urban_districts():
    urban = Sensor.objects.filter(district__code__in=URBAN_DISTRICTS).count()

    assert urban > Sensor.objects.count() / 2
    assert Sensor.objects.exclude(district__code__in=URBAN_DISTRICTS).exists()


def test_every_sensor_has_an_owner_and_reports_through_the_owners_gateway():
    gateway_of = {d.code: d.gateway for d in DEPARTMENTS if d.gateway}

    pairs = set(Sensor.objects.values_list("owner_department__code", "gateway__code"))

    assert pairs == {(owner, gateway_of[owner]) for owner in {spec.owner for spec in SENSOR_TYPES}}
    assert set(Gateway.objects.filter(code__in=DEMO_GATEWAYS, is_active=True).values_list("code", flat=True)) == set(
        DEMO_GATEWAYS
    )


def test_every_lifeline_domain_has_sensors_and_three_routing_policies():
    for code in LIFELINE_DOMAINS:
        assert Sensor.objects.filter(sensor_type__domain__code=code).exists(), code
        assert RoutingPolicy.objects.filter(domain__code=code).count() == 3, code
    assert RoutingPolicy.objects.count() == 3 * len(DOMAINS)


def test_routing_follows_hefei_practice():
    for code in LIFELINE_DOMAINS:
        policies = {p.level: p for p in RoutingPolicy.objects.filter(domain__code=code).prefetch_related("departments")}
        level3, level2, level1 = policies[3], policies[2], policies[1]

        assert level3.include_sensor_owner
        assert not level3.departments.exists()
        assert level2.include_district_government
        assert [d.code for d in level2.departments.all()] == ["housing-bureau"]
        assert [d.code for d in level1.departments.all()] == ["command-office"]
        # The more severe, the sooner someone must answer.
        assert level3.ack_deadline_minutes > level2.ack_deadline_minutes > level1.ack_deadline_minutes, code
    gas = RoutingPolicy.objects.get(domain__code="gas", level=1)
    assert gas.ack_deadline_minutes == 15


def test_each_district_has_its_government():
    governments = Department.objects.filter(kind=DepartmentKind.DISTRICT_GOVERNMENT)

    assert {(d.district.code, d.name) for d in governments} == {
        (code, f"{name}人民政府") for code, name in HEFEI.items()
    }


def test_every_sensor_type_has_a_threshold_rule_with_ordered_thresholds():
    types = SensorType.objects.annotate(sensor_count=Count("sensors"))

    assert types.count() == len(SENSOR_TYPES)
    for sensor_type in types:
        assert sensor_type.sensor_count > 0, sensor_type.code
        rules = ThresholdRule.objects.filter(sensor_type=sensor_type, sensor=None, is_active=True)
        assert rules.count() == 1, sensor_type.code
        rules.get().full_clean()


def test_each_type_rule_carries_the_catalogues_thresholds_and_the_catalogue_stays_unsaved():
    for spec in SENSOR_TYPES:
        rule = ThresholdRule.objects.get(sensor_type__code=spec.code, sensor=None)

        assert (rule.direction, rule.thresholds(), rule.dead_band) == (
            spec.rule.direction,
            spec.rule.thresholds(),
            spec.rule.dead_band,
        ), spec.code
        # The loader saved a copy: the simulator and the tests read the catalogue's rule as it was.
        assert spec.rule.pk is None
        assert spec.rule.sensor_type_id is None


def test_the_demo_users_sign_in_with_their_roles_and_departments():
    departments = {}
    for spec in USERS:
        user = authenticate(username=spec.username, password=spec.password)

        assert user is not None, spec.username
        assert list(user.groups.values_list("name", flat=True)) == [spec.role]
        departments[spec.username] = getattr(Membership.objects.filter(user=user).first(), "department", None)

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    assert {spec.username: spec.role for spec in USERS} == {
        "admin": ADMINISTRATOR,
        "duty": DUTY_OFFICER,
        "gas": DEPARTMENT_STAFF,
        "water": DEPARTMENT_STAFF,
    }
    assert departments["gas"].code == "gas-company"
    assert departments["water"].code == "water-company"
    assert departments["admin"] is None
    assert departments["duty"] is None


def test_every_district_has_each_kind_of_surroundings_inside_it():
    for district in District.objects.all():
        targets = ProtectionTarget.objects.filter(district=district)
        assert set(targets.values_list("kind", flat=True)) == set(TargetKind.values), district.name
        resources = EmergencyResource.objects.filter(district=district)
        assert set(resources.values_list("kind", flat=True)) == set(ResourceKind.values), district.name
        assert RiskArea.objects.filter(district=district).count() == 2
        assert Camera.objects.filter(district=district).count() == 1
        for place in (*targets, *resources):
            assert district.boundary.covers(place.location), place.name
    assert set(RiskArea.objects.values_list("grade", flat=True)) == set(RiskGrade.values)
    assert ProtectionTarget.objects.get(code="340111-SCH").name == "包河区实验小学"


def test_loading_again_duplicates_nothing_and_keeps_what_people_changed():
    before = row_counts()
    duty = get_user_model().objects.get(username="duty")
    duty.set_password("changed-by-someone")
    duty.save()
    policy = RoutingPolicy.objects.get(domain__code="gas", level=3)
    policy.ack_deadline_minutes = 5
    policy.save()
    ProtectionTarget.objects.filter(code="340111-SCH").update(name="包河区实验学校")
    out = StringIO()

    call_command("load_demo_city", stdout=out)

    assert row_counts() == before
    assert f"Sensors {sum(s.count for s in SENSOR_TYPES)} (0 new)" in out.getvalue()
    assert "surroundings 0 new" in out.getvalue()
    assert ProtectionTarget.objects.get(code="340111-SCH").name == "包河区实验学校"
    # A reload must not sign people out nor undo the administrator's edits.
    assert authenticate(username="duty", password="changed-by-someone") is not None
    assert RoutingPolicy.objects.get(pk=policy.pk).ack_deadline_minutes == 5


def test_every_department_has_a_demo_account_so_every_loop_can_close():
    for department in Department.objects.all():
        members = Membership.objects.filter(department=department).select_related("user")
        assert members.exists(), department.code
    command = authenticate(username="command-office", password=DEPARTMENT_PASSWORD)
    assert command is not None
    assert command.membership.department.code == "command-office"


# --- simulate_readings on the loaded city ------------------------------------


def test_simulate_readings_posts_one_batch_per_gateway_with_freshly_issued_tokens(stub_api):
    out = StringIO()

    call_command("simulate_readings", url=stub_api.url, once=True, seed=1, stdout=out)

    gateways = {Gateway.hash_token(r["authorization"].removeprefix("Bearer ")): r for r in stub_api.requests}
    assert len(stub_api.requests) == Gateway.objects.count() == len(gateways)
    for gateway in Gateway.objects.all():
        # The token each request carried is the gateway's current one.
        body = gateways[gateway.token_hash]["body"]
        assert sorted(i["sensor"] for i in body) == sorted(gateway.sensors.values_list("code", flat=True))
    assert sum(len(r["body"]) for r in stub_api.requests) == Sensor.objects.count()
    assert f"accepted {Sensor.objects.count()}, duplicates 0, errors 0" in out.getvalue()


def test_every_domain_ships_a_response_plan_per_level_that_the_routed_departments_find():
    from dispatch.models import ResponsePlan

    for spec in DOMAINS:
        plans = {p.level: p for p in ResponsePlan.objects.filter(domain__code=spec.code).prefetch_related("actions")}
        assert sorted(plans) == [1, 2, 3], spec.code
        kinds = {level: {a.department_kind for a in plan.actions.all()} for level, plan in plans.items()}
        # Each level's plan speaks to every kind of department routed at that level.
        assert {DepartmentKind.ENTERPRISE, DepartmentKind.INDUSTRY} <= kinds[3], spec.code
        assert DepartmentKind.DISTRICT_GOVERNMENT in kinds[2], spec.code
        assert DepartmentKind.COMMAND_OFFICE in kinds[1], spec.code
        assert len(plans[1].actions.all()) > len(plans[3].actions.all()), spec.code
    gas = ResponsePlan.objects.get(domain__code="gas", level=2)
    assert "疏散泄漏点周边 50 米内人员并设置警戒" in [a.text for a in gas.actions.all()]


def test_the_demo_city_has_a_duty_roster_for_today_with_each_departments_own_people():
    from organisation.selectors import duty_shift_at

    centre = duty_shift_at(None, timezone.now())
    assert (centre.person_on_duty.username, centre.leader_on_duty.username) == ("duty", "admin")
    for department in Department.objects.all():
        shift = duty_shift_at(department.pk, timezone.now())
        assert Membership.objects.filter(user=shift.person_on_duty, department=department).exists(), department.code
    assert DutyShift.objects.filter(date=timezone.localdate() + timedelta(days=7)).exists()
