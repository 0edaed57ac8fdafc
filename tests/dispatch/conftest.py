"""A small city for dispatch: Hefei practice for gas.

Level III → the operating enterprise (the sensor's owner, the gas company);
Level II → adds the housing bureau and the district government;
Level I → adds the city command office.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Reading, Sensor
from monitoring.services import readings_record_stored
from organisation.models import DepartmentKind
from tests.factories import (
    DepartmentFactory,
    DistrictFactory,
    RiskDomainFactory,
    RoutingPolicyFactory,
    SensorFactory,
    SensorTypeFactory,
    ThresholdRuleFactory,
)
from warning import services as warning_services
from warning.models import Warning, WarningStatus


@pytest.fixture
def city(db, department_a, department_b):
    gas = RiskDomainFactory(code="gas", name="Gas")
    water = RiskDomainFactory(code="water_supply", name="Water supply")
    district = DistrictFactory(code="340102", name="Yaohai")
    government = DepartmentFactory(
        code="yaohai-government", name="Yaohai government", kind=DepartmentKind.DISTRICT_GOVERNMENT, district=district
    )
    bureau = DepartmentFactory(code="housing-bureau", name="Housing bureau", kind=DepartmentKind.INDUSTRY)
    command = DepartmentFactory(code="command-office", name="Command office", kind=DepartmentKind.COMMAND_OFFICE)
    RoutingPolicyFactory(domain=gas, level=3, include_sensor_owner=True, ack_deadline_minutes=30)
    RoutingPolicyFactory(
        domain=gas, level=2, departments=[bureau], include_district_government=True, ack_deadline_minutes=20
    )
    RoutingPolicyFactory(domain=gas, level=1, departments=[command], ack_deadline_minutes=15)
    methane = SensorTypeFactory(code="methane", domain=gas)
    ThresholdRuleFactory(sensor_type=methane)
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
