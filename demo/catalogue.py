"""The demo city's catalogue: what Hefei monitors, who answers, who signs in.

Plain data, read without a database by the loader, the simulator and the
tests: risk domains with their deadlines, sensor types with their threshold
rules, departments and their gateways, and the demo accounts. Where the
things stand is ``demo.geography``; writing them is ``demo.loading``.
"""

from dataclasses import dataclass

from monitoring.models import RiskCategory
from organisation.models import DepartmentKind
from organisation.roles import ADMINISTRATOR, DEPARTMENT_STAFF, DUTY_OFFICER
from warning.models import Direction, ThresholdRule


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

LIFELINE_DOMAINS: tuple[str, ...] = tuple(d.code for d in DOMAINS if d.category == RiskCategory.LIFELINE)


@dataclass(frozen=True)
class SensorTypeSpec:
    code: str
    name: str
    domain: str
    metric: str
    unit: str
    # Unsaved: the loader saves a copy for the type, once.
    rule: ThresholdRule
    # Demo placement: how many sensors, their code prefix and name stem,
    # the department that owns them, and whether they cluster in built-up
    # areas (pipes, bridges) or spread over the whole district (rivers, slopes).
    count: int
    code_prefix: str
    point_name: str
    owner: str
    urban: bool = True
    reporting_interval_seconds: int = 60


def _rule(direction: str, t3: float, t2: float, t1: float, dead_band: float) -> ThresholdRule:
    return ThresholdRule(
        direction=direction, level3_threshold=t3, level2_threshold=t2, level1_threshold=t1, dead_band=dead_band
    )


def _above(t3: float, t2: float, t1: float, dead_band: float) -> ThresholdRule:
    return _rule(Direction.ABOVE, t3, t2, t1, dead_band)


def _below(t3: float, t2: float, t1: float, dead_band: float) -> ThresholdRule:
    return _rule(Direction.BELOW, t3, t2, t1, dead_band)


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


# Response plans (数字化预案): what each kind of department does for a
# warning of a domain, after Hefei's operations manual. The enterprise's and
# the industry department's first actions apply from Level III; every action
# of theirs from Level II, with the district government; Level I adds the
# command office and evacuation by the district.
@dataclass(frozen=True)
class PlanSpec:
    enterprise: tuple[str, ...]
    industry: tuple[str, ...]


PLANS: dict[str, PlanSpec] = {
    "gas": PlanSpec(
        ("派人到场核查并检测周边可燃气体浓度", "关闭上游阀门并切断气源", "疏散泄漏点周边 50 米内人员并设置警戒"),
        ("排查周边建筑及地下空间", "督导燃气企业处置并核实结果"),
    ),
    "water_supply": PlanSpec(
        ("到场核查管网压力并查找漏点", "关闭相关阀门并组织抢修", "启动临时供水并通知受影响用户"),
        ("督导抢修进度", "评估对道路和周边建筑的影响"),
    ),
    "drainage": PlanSpec(
        ("到场核查液位并清理雨水口和检查井", "启动泵站强排", "在积水路段设置警示并封闭危险路段"),
        ("调度排涝力量", "协调交通疏导"),
    ),
    "heating": PlanSpec(
        ("到场核查管网温度和压力并查找泄漏点", "关闭相关阀门并组织抢修", "通知受影响用户并安排临时供热"),
        ("督导抢修进度", "评估对周边道路安全的影响"),
    ),
    "bridge": PlanSpec(
        ("到场巡查桥梁结构与支座", "限制重载车辆通行", "封闭桥梁并组织结构检测"),
        ("组织专家会商结构安全", "提出交通管制建议"),
    ),
    "utility_tunnel": PlanSpec(
        ("到场核查舱室环境与设备状态", "启动通风、排水等联动设备", "组织人员撤离舱室并封闭入口"),
        ("督导入廊管线单位排查处置", "核实各管线运行状态"),
    ),
    "production_safety": PlanSpec(
        ("到场核查工艺参数与设备状态", "停止相关作业并启动企业应急预案", "疏散作业区人员"),
        ("派员督导企业处置", "调派专业救援力量"),
    ),
    "natural_disaster": PlanSpec(
        ("巡查自有设施并加固或转移受威胁设备", "配合属地政府转移人员"),
        ("到场核查水位、位移等监测数据与现场情况", "组织巡查险情并划定危险区域", "发布预警信息并组织受威胁群众转移"),
    ),
    "public_safety": PlanSpec(
        ("到场核查现场情况并维持秩序", "启动场所应急预案并疏导人员"),
        ("派警力到场维持秩序并疏导人流车流", "必要时实施交通管制"),
    ),
}
DISTRICT_GOVERNMENT_ACTIONS = ("组织属地街道、社区人员到场配合处置", "组织周边群众疏散转移并做好安置")
COMMAND_OFFICE_ACTIONS = ("启动城市安全应急响应并组织会商研判", "统一调度各部门力量并向市政府报告处置进展")
LEVEL_NAMES = {3: "三级", 2: "二级", 1: "一级"}


def plan_actions(domain: str, level: int) -> list[tuple[str, str]]:
    """The plan of one domain at one level, as (department kind, action) in the order they are done."""
    spec = PLANS[domain]
    if level == 3:
        return [(DepartmentKind.ENTERPRISE, text) for text in spec.enterprise[:2]] + [
            (DepartmentKind.INDUSTRY, text) for text in spec.industry[:1]
        ]
    actions = [(DepartmentKind.ENTERPRISE, text) for text in spec.enterprise]
    actions += [(DepartmentKind.INDUSTRY, text) for text in spec.industry]
    actions += [
        (DepartmentKind.DISTRICT_GOVERNMENT, text) for text in DISTRICT_GOVERNMENT_ACTIONS[: 1 if level == 2 else 2]
    ]
    if level == 1:
        actions += [(DepartmentKind.COMMAND_OFFICE, text) for text in COMMAND_OFFICE_ACTIONS]
    return actions
