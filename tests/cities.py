"""The small city the tests build most: gas in Hefei's Yaohai district.

Dispatch's tests, the pages' tests and the browser's closed loop each kept a
copy of it; here it is once. Each adds what it needs on top (more routing,
its own sensors and people). The ``gas_city`` fixture (tests/conftest.py)
builds it in English; the browser tests, whose screens are Chinese, call
``build_gas_city(chinese=True)``.
"""

from dataclasses import dataclass

from monitoring.models import RiskDomain, SensorType
from organisation.models import District
from tests.factories import (
    DistrictFactory,
    RiskDomainFactory,
    RoutingPolicyFactory,
    SensorTypeFactory,
    ThresholdRuleFactory,
)


@dataclass
class GasCity:
    domain: RiskDomain
    methane: SensorType
    district: District


def build_gas_city(*, chinese: bool = False) -> GasCity:
    """Gas; methane detectors with the upper-limit rule (Level III above 10,
    II above 20, I above 50 %LEL); the Yaohai district; Level III routed to
    the sensor's owner (the operating enterprise) with 30 minutes to respond."""
    if chinese:
        domain = RiskDomainFactory(code="gas", name="燃气")
        methane = SensorTypeFactory(code="gas-methane", name="可燃气体探测器", domain=domain, unit="%LEL")
        ThresholdRuleFactory(name="甲烷浓度上限", sensor_type=methane)
        district = DistrictFactory(code="340102", name="瑶海区")
    else:
        domain = RiskDomainFactory(code="gas", name="Gas")
        methane = SensorTypeFactory(code="methane", domain=domain)
        ThresholdRuleFactory(sensor_type=methane)
        district = DistrictFactory(code="340102", name="Yaohai")
    RoutingPolicyFactory(domain=domain, level=3, include_sensor_owner=True, ack_deadline_minutes=30)
    return GasCity(domain=domain, methane=methane, district=district)
