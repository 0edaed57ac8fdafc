"""A small city for dispatch: Hefei practice for gas.

Level III → the operating enterprise (the sensor's owner, the gas company);
Level II → adds the housing bureau and the district government;
Level I → adds the city command office.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch import services as dispatch_services
from dispatch.models import WorkOrder
from monitoring.models import Reading, Sensor
from monitoring.services import readings_record_stored
from organisation.models import DepartmentKind, DutyShift
from organisation.roles import DEPARTMENT_STAFF, DUTY_OFFICER
from tests.factories import (
    DepartmentFactory,
    RiskDomainFactory,
    RoutingPolicyFactory,
    SensorFactory,
    SensorTypeFactory,
    ThresholdRuleFactory,
    UserFactory,
)
from warning import services as warning_services
from warning.models import Warning, WarningStatus


@pytest.fixture
def city(department_a, department_b, gas_city):
    gas, methane, district = gas_city.domain, gas_city.methane, gas_city.district
    water = RiskDomainFactory(code="water_supply", name="Water supply")
    government = DepartmentFactory(
        code="yaohai-government", name="Yaohai government", kind=DepartmentKind.DISTRICT_GOVERNMENT, district=district
    )
    bureau = DepartmentFactory(code="housing-bureau", name="Housing bureau", kind=DepartmentKind.INDUSTRY)
    command = DepartmentFactory(code="command-office", name="Command office", kind=DepartmentKind.COMMAND_OFFICE)
    RoutingPolicyFactory(
        domain=gas, level=2, departments=[bureau], include_district_government=True, ack_deadline_minutes=20
    )
    RoutingPolicyFactory(domain=gas, level=1, departments=[command], ack_deadline_minutes=15)
    gas_sensor = SensorFactory(code="GAS-0001", sensor_type=methane, district=district, owner_department=department_a)
    pressure = SensorTypeFactory(code="water-pressure", name="Water pressure", domain=water, unit="MPa")
    ThresholdRuleFactory(
        name="Pressure",
        sensor_type=pressure,
        direction="below",
        level3_threshold=0.2,
        level2_threshold=0.16,
        level1_threshold=0.12,
        dead_band=0.0,
    )
    RoutingPolicyFactory(domain=water, level=3, include_sensor_owner=True, ack_deadline_minutes=30)
    water_sensor = SensorFactory(
        code="WATER-0001", sensor_type=pressure, district=district, owner_department=department_b
    )
    return {
        "gas_sensor": gas_sensor,
        "water_sensor": water_sensor,
        "government": government,
        "bureau": bureau,
        "command": command,
    }


@pytest.fixture
def reach():
    """Evaluate one reading of a sensor now, as the worker would."""

    def reach(sensor: Sensor, value: float) -> Warning | None:
        latest = Reading.objects.filter(sensor=sensor).order_by("-observed_at").values_list("observed_at", flat=True)
        when = max(timezone.now() - timedelta(minutes=30), (latest.first() or timezone.now()) + timedelta(seconds=1))
        readings_record_stored(readings=[Reading.objects.create(sensor=sensor, observed_at=when, value=value)])
        warning_services.sensor_evaluate(sensor_id=sensor.pk)
        return Warning.objects.exclude(status=WarningStatus.CLOSED).filter(sensor=sensor).first()

    return reach


@pytest.fixture
def client():
    from django.test import Client

    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def tasks_in_process():
    """Celery tasks enqueued meanwhile run at once, in this process, their errors raised (unit tests'
    stand-in for the worker: the task's own code runs, not a copy of it)."""
    from citysafety.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def reach_and_announce(reach, django_capture_on_commit_callbacks, tasks_in_process):
    """``reach``, then what its commit sets off, as the worker would: the pushes, and the task
    that tells the new orders' departments (routing tells nobody inside its transaction)."""

    def reach_and_announce(sensor: Sensor, value: float) -> Warning | None:
        with django_capture_on_commit_callbacks(execute=True):
            return reach(sensor, value)

    return reach_and_announce


@pytest.fixture
def on_duty(department_a, staff_a):
    """Today's roster (and the days around it, so a sweep past midnight still finds it)."""
    people = {
        "amy": UserFactory(username="amy", roles=[DEPARTMENT_STAFF], department=department_a),
        "leader": UserFactory(username="arthur", roles=[DEPARTMENT_STAFF], department=department_a),
        "centre": UserFactory(username="officer", roles=[DUTY_OFFICER]),
        "chief": UserFactory(username="chief", roles=[DUTY_OFFICER]),
    }
    today = timezone.localdate()
    for offset in (-1, 0, 1):
        day = today + timedelta(days=offset)
        DutyShift.objects.create(
            department=department_a, date=day, person_on_duty=staff_a, leader_on_duty=people["leader"]
        )
        DutyShift.objects.create(
            department=None, date=day, person_on_duty=people["centre"], leader_on_duty=people["chief"]
        )
    return people


# --- Report photos (test_photos_and_isolation, test_photo_metadata) -------------


@pytest.fixture
def photo_media(settings, tmp_path):
    """Photo files of one test in a folder of its own."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def media(photo_media):
    return photo_media


@pytest.fixture
def order_on_site(city, reach, staff_a):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    dispatch_services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    dispatch_services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    return order
