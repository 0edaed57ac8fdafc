"""In Chromium, the admin's map widgets (a sensor's location, a district's
boundary) title Leaflet's buttons and drawing tools in the reader's language."""

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from playwright.sync_api import Page, expect

from organisation.roles import ADMINISTRATOR
from tests.e2e.conftest import log_in
from tests.factories import DistrictFactory, SensorFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BAOHE = ((117.2, 31.7), (117.4, 31.7), (117.4, 32.0), (117.2, 32.0), (117.2, 31.7))

# django-leaflet keeps no global of its maps (NO_GLOBALS): catch them as
# they are made, to add a layer switcher the way an overlay setting would.
KEEP_MAPS = "window.addEventListener('map:init', (event) => { (window.testMaps ||= []).push(event.detail.map); });"
ADD_LAYER_SWITCHER = "() => L.control.layers({ a: L.layerGroup(), b: L.layerGroup() }, {}, { collapsed: true }).addTo(window.testMaps[0])"

CHINESE = {
    "zoom_in": "放大",
    "zoom_out": "缩小",
    "layers": "图层",
    "marker": "放置标记",
    "polygon": "绘制多边形",
    "edit": "编辑图形",
    "remove": "删除图形",
    "cancel": "取消",
    "marker_hint": "点击地图放置标记。",
    "polygon_hint": "点击开始绘制图形。",
}
ENGLISH = {
    "zoom_in": "Zoom in",
    "zoom_out": "Zoom out",
    "layers": "Layers",
    "marker": "Draw a marker",
    "polygon": "Draw a polygon",
    "edit": "Edit layers",
    "remove": "Delete layers",
    "cancel": "Cancel",
    "marker_hint": "Click map to place marker.",
    "polygon_hint": "Click to start drawing shape.",
}


@pytest.fixture
def city():
    UserFactory(username="admin", roles=[ADMINISTRATOR], is_staff=True, is_superuser=True)
    district = DistrictFactory(code="340111", name="包河区", boundary=MultiPolygon(Polygon(BAOHE)))
    sensor = SensorFactory(code="GAS-0001", district=district)
    return {"sensor": sensor, "district": district}


def admin_page(new_context, base_url: str, locale: str) -> Page:
    page = new_context(locale=locale).new_page()
    page.add_init_script(KEEP_MAPS)
    log_in(page, base_url, "admin")
    return page


def expect_map_titles(page: Page, texts: dict[str, str], drawing_tool: str) -> None:
    container = page.locator(".leaflet-container").first
    expect(container.locator(".leaflet-control-zoom-in")).to_have_attribute("title", texts["zoom_in"])
    expect(container.locator(".leaflet-control-zoom-out")).to_have_attribute("title", texts["zoom_out"])
    expect(container.locator(f".leaflet-draw-draw-{drawing_tool}")).to_have_attribute("title", texts[drawing_tool])
    expect(container.locator(".leaflet-draw-edit-edit")).to_have_attribute("title", texts["edit"])
    expect(container.locator(".leaflet-draw-edit-remove")).to_have_attribute("title", texts["remove"])
    page.evaluate(ADD_LAYER_SWITCHER)
    expect(container.locator(".leaflet-control-layers-toggle")).to_have_attribute("title", texts["layers"])
    # Drawing: the tool's action button and the hint that follows the pointer.
    container.scroll_into_view_if_needed()
    container.locator(f".leaflet-draw-draw-{drawing_tool}").click()
    expect(container.locator(".leaflet-draw-actions").first).to_contain_text(texts["cancel"])
    box = container.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    expect(container.locator(".leaflet-draw-tooltip")).to_contain_text(texts[f"{drawing_tool}_hint"])


@pytest.mark.parametrize(("locale", "texts"), [("zh-CN", CHINESE), ("en-US", ENGLISH)])
def test_the_sensor_map_in_the_admin_speaks_the_readers_language(
    daphne_server, new_context, shoot, city, locale, texts
):
    page = admin_page(new_context, daphne_server.url, locale)

    page.goto(f"{daphne_server.url}/admin/monitoring/sensor/{city['sensor'].pk}/change/")

    expect_map_titles(page, texts, "marker")
    shoot(page, f"01-sensor-map-{locale}")


def test_the_district_map_in_the_admin_speaks_chinese(daphne_server, new_context, shoot, city):
    page = admin_page(new_context, daphne_server.url, "zh-CN")

    page.goto(f"{daphne_server.url}/admin/organisation/district/{city['district'].pk}/change/")

    expect_map_titles(page, CHINESE, "polygon")
    shoot(page, "01-district-map")
