"""The one map at city scale, in a real browser: clusters with their count and
their worst member's colour, turning red live when a member reaches Level I,
splitting as the duty officer zooms in.

Real daphne, real Celery worker, real Redis channel layer; the gateway posts
through the HTTP API like a device would. Screenshots go to test-artifacts/e2e/.
"""

import pytest
import requests
from django.contrib.gis.geos import Point
from django.utils import timezone
from playwright.sync_api import Page, expect

from dashboard.selectors import INDIVIDUAL_LIMIT
from monitoring.models import Sensor, SensorStatus
from monitoring.services import gateway_create
from organisation.roles import DUTY_OFFICER
from tests.e2e.conftest import log_in
from tests.factories import (
    DistrictFactory,
    RiskDomainFactory,
    SensorFactory,
    SensorTypeFactory,
    ThresholdRuleFactory,
    UserFactory,
)
from warning.models import Level

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

COLUMNS, ROWS = 30, 25  # 750 sensors: more than the server sends one by one
RED_CODE = "GAS-RED-1"


def build_city() -> tuple[Sensor, str]:
    """750 online sensors on a grid over one district, one of them behind a gateway; (that sensor, its token)."""
    assert COLUMNS * ROWS > INDIVIDUAL_LIMIT
    gas = RiskDomainFactory(code="gas", name="燃气")
    methane = SensorTypeFactory(code="gas-methane", name="可燃气体探测器", domain=gas, unit="%LEL")
    ThresholdRuleFactory(name="甲烷浓度上限", sensor_type=methane)  # above 10 / 20 / 50
    district = DistrictFactory(code="340102", name="瑶海区")  # 117.0-117.4 E, 31.7-32.0 N
    Sensor.objects.bulk_create(
        Sensor(
            code=f"GRID-{c:02d}-{r:02d}",
            name=f"网格监测点 {c}-{r}",
            sensor_type=methane,
            district=district,
            location=Point(117.02 + c * 0.012, 31.72 + r * 0.0105, srid=4326),
            status=SensorStatus.ONLINE,
        )
        for c in range(COLUMNS)
        for r in range(ROWS)
    )
    gateway, token = gateway_create(code="gw-map", name="Map gateway")
    sensor = SensorFactory(
        code=RED_CODE,
        name="瑶海区燃气阀井可燃气体监测点 RED",
        sensor_type=methane,
        district=district,
        gateway=gateway,
        location=Point(117.205, 31.853, srid=4326),
        status=SensorStatus.ONLINE,
    )
    UserFactory(username="duty", first_name="值班员", roles=[DUTY_OFFICER])
    return sensor, token


def post_reading(base_url: str, token: str, value: float) -> None:
    response = requests.post(
        f"{base_url}/api/v1/readings/",
        json=[{"sensor": RED_CODE, "observed_at": timezone.now().isoformat(), "value": value}],
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def draws(page: Page) -> int:
    return int(page.locator("#map").get_attribute("data-draws") or 0)


def wait_for_a_draw_after(page: Page, count: int) -> None:
    page.wait_for_function(f"Number(document.getElementById('map').dataset.draws || 0) > {count}", timeout=15_000)


def cluster_counts(page: Page) -> list[int]:
    return [
        int(n) for n in page.locator(".map-cluster[data-count]").evaluate_all("(ns) => ns.map((n) => n.dataset.count)")
    ]


def test_a_cluster_turns_red_live_and_splits_as_the_duty_officer_zooms_in(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    sensor, token = build_city()
    total = COLUMNS * ROWS + 1

    page = new_context().new_page()
    log_in(page, url, "duty")
    expect(page).to_have_url(f"{url}/dashboard/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    expect(page.locator("#map")).to_have_attribute("data-clustered", "true")

    # The whole city in clusters: every sensor counted once, none red yet,
    # the summary counting the city.
    counts = cluster_counts(page)
    assert 3 < len(counts) < 200, counts
    assert sum(counts) == total
    expect(page.locator(".map-cluster.level-1")).to_have_count(0)
    expect(page.locator("#sensor-summary")).to_contain_text(str(total))
    shoot(page, "01-city-in-clusters")

    # A gateway reports 60 %LEL: above the Level I threshold (50). The
    # cluster holding the sensor turns red without a reload.
    post_reading(url, token, 60.0)
    red = page.locator(".map-cluster.level-1")
    expect(red).to_have_count(1, timeout=20_000)
    red_count = int(red.get_attribute("data-count"))
    assert red_count > 1  # a cluster, not the lone sensor: the worst member colours it
    expect(red.locator(".mc-warned")).to_have_text("1")
    assert (
        red.evaluate("(n) => getComputedStyle(n).backgroundColor") == "rgb(255, 59, 59)"
    )  # Level I red, from choices.py
    assert Level.I.colour.hex == "#ff3b3b"
    expect(page.locator(".warning-item[data-level='1']")).to_contain_text(sensor.name)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload happened
    shoot(page, "02-cluster-turned-red")

    # Zooming one step in splits the clusters: more of them, smaller, the same sensors.
    before = draws(page)
    zoom = page.evaluate("citysafetyDashboard.map.getZoom()")
    page.evaluate("citysafetyDashboard.map.setZoom(citysafetyDashboard.map.getZoom() + 1, {animate: false})")
    wait_for_a_draw_after(page, before)
    assert page.evaluate("citysafetyDashboard.map.getZoom()") == zoom + 1
    split = cluster_counts(page)
    assert len(split) > len(counts), (len(split), len(counts))
    assert max(split) < max(counts)
    expect(page.locator(".map-cluster.level-1")).to_have_count(1)
    shoot(page, "03-zoomed-in-split")

    # Clicking the red cluster zooms to its members until they stand one by one,
    # the Level I warning's marker among them.
    for _ in range(6):
        if page.locator("#map").get_attribute("data-clustered") == "false":
            break
        before = draws(page)
        page.locator(".map-cluster.level-1").click()
        wait_for_a_draw_after(page, before)
    expect(page.locator("#map")).to_have_attribute("data-clustered", "false")
    expect(page.locator(".leaflet-marker-icon .wm.level-1.status-active")).to_be_visible()
    shoot(page, "04-red-sensor-one-by-one")
