"""In Chromium, the duty officer turns the surroundings layers on and opens a place's popup.

The school's name is markup: the popup shows it as text, and no dialog opens.
"""

import datetime

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from playwright.sync_api import expect

from organisation.roles import DUTY_OFFICER
from surroundings.models import Camera, EmergencyResource, ProtectionTarget, RiskArea
from tests.e2e.conftest import log_in
from tests.factories import DistrictFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BAOHE = ((117.2, 31.7), (117.4, 31.7), (117.4, 32.0), (117.2, 32.0), (117.2, 31.7))
EVIL = "<img src=x onerror=alert(1)>"
TITLES = {
    "zh-CN": ["防护目标", "应急资源", "风险区域\uff08四色图\uff09", "摄像头"],
    "en-GB": ["Protection targets", "Emergency resources", "Risk areas (four-colour map)", "Cameras"],
}
CAPACITY = {"zh-CN": "容纳人数", "en-GB": "Capacity"}


@pytest.fixture
def city():
    UserFactory(username="duty", roles=[DUTY_OFFICER])
    district = DistrictFactory(code="340111", name="包河区", boundary=MultiPolygon(Polygon(BAOHE)))
    ProtectionTarget.objects.create(
        code="S-1", name=EVIL, kind="school", location=Point(117.3, 31.9, srid=4326), district=district, capacity=900
    )
    EmergencyResource.objects.create(
        code="T-1", name="消防救援站", kind="rescue_team", location=Point(117.25, 31.8, srid=4326), district=district
    )
    RiskArea.objects.create(
        code="R-1",
        name="加气站",
        kind="hazard_source",
        grade=1,
        assessed_on=datetime.date(2026, 3, 31),
        district=district,
        boundary=MultiPolygon(
            Polygon(((117.22, 31.9), (117.26, 31.9), (117.26, 31.94), (117.22, 31.94), (117.22, 31.9)))
        ),
    )
    Camera.objects.create(
        code="C-1",
        name="路口",
        location=Point(117.35, 31.75, srid=4326),
        district=district,
        stream_url="https://video.example.cn/c1.m3u8",
    )


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_layers_turn_on_and_a_popup_shows_a_name_as_text(daphne_server, new_context, shoot, city, locale):
    page = new_context(locale=locale).new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, daphne_server.url, "duty")
    page.wait_for_function("() => window.citysafetyDashboard && window.citysafetyDashboard.surroundings")
    assert errors == []

    page.locator(".leaflet-control-layers").hover()
    for title in TITLES[locale]:
        page.get_by_label(title, exact=True).check()
    try:
        page.wait_for_function(
            "() => Object.values(window.citysafetyDashboard.surroundings).every((e) => e.loads > 0 && e.features === 1)"
        )
    finally:
        shoot(page, f"layers-on-{locale}")
        print(
            page.evaluate(
                "() => Object.values(window.citysafetyDashboard.surroundings).map((e) => [e.spec.key, e.loads, e.features, e.error])"
            )
        )
        assert errors == []
    page.mouse.move(683, 700)  # the layer control folds away
    legend = page.locator(".surroundings-legend")
    expect(legend).to_contain_text(TITLES[locale][0])
    expect(legend.locator(".row")).to_have_count(5 + 4 + 4 + 1)
    shoot(page, f"layers-{locale}")

    point = page.evaluate(
        "() => { const m = window.citysafetyDashboard.map; const p = m.latLngToContainerPoint([31.9, 117.3]);"
        " const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }"
    )
    page.mouse.click(*point)
    popup = page.locator(".surroundings-popup[data-layer=targets]")
    expect(popup.locator("h4")).to_have_text(EVIL)
    expect(popup).to_contain_text(CAPACITY[locale])
    assert popup.locator("img").count() == 0
    expect(page.locator(".leaflet-popup")).to_have_css("opacity", "1")  # faded in, for the screenshot
    shoot(page, f"popup-{locale}")
    assert dialogs == []
