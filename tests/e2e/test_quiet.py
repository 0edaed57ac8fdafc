"""Silences, the maintenance marker and incidents in Chromium, in Chinese and
English: the duty officer sees a silenced sensor marked on the map, an
incident as one row, silences a sensor from the warning page, and ends the
silence early from the silences page. Screenshots go to test-artifacts/e2e/."""

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.models import Asset, AssetKind, Reading, SensorStatus
from monitoring.services import readings_record_stored
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
from warning import services
from warning.models import Silence, Warning

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXTS = {
    "zh-CN": {"incident": "南淝河大桥 事件 · 2 条预警", "silences": "静默", "end": "立即结束", "ended": "已结束"},
    "en-GB": {
        "incident": "Incident on 南淝河大桥 · 2 warnings",
        "silences": "Silences",
        "end": "End now",
        "ended": "Ended",
    },
}


def build_city():
    domain = RiskDomainFactory(code="bridge", name="桥梁")
    strain = SensorTypeFactory(code="strain", name="应变计", domain=domain, unit="με")
    ThresholdRuleFactory(name="应变上限", sensor_type=strain)  # above 10 / 20 / 50
    district = DistrictFactory(code="340102", name="瑶海区")
    bridge = Asset.objects.create(code="nanfei-bridge", name="南淝河大桥", kind=AssetKind.BRIDGE, district=district)
    officer = UserFactory(username="duty", first_name="值班员", roles=[DUTY_OFFICER])

    def sensor(code, lng, lat, **extra):
        return SensorFactory(
            code=code,
            name=f"监测点 {code}",
            sensor_type=strain,
            district=district,
            location=Point(lng, lat, srid=4326),
            status=SensorStatus.ONLINE,
            **extra,
        )

    on_bridge = [sensor("BR-1", 117.20, 31.85, asset=bridge), sensor("BR-2", 117.21, 31.85, asset=bridge)]
    pump = sensor("PUMP-1", 117.25, 31.80)
    now = timezone.now()
    Silence.objects.create(
        sensor=pump,
        reason="泵站检修 / pump overhaul",
        created_by=officer,
        starts_at=now - timedelta(minutes=10),
        ends_at=now + timedelta(hours=2),
    )
    for minutes, target, value in ((6, on_bridge[0], 60.0), (5, on_bridge[1], 25.0), (4, pump, 70.0)):
        at = now - timedelta(minutes=minutes)
        readings_record_stored(readings=[Reading.objects.create(sensor=target, observed_at=at, value=value)])
        services.sensor_evaluate(sensor_id=target.pk)
    return on_bridge, pump


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_maintenance_marker_incident_row_and_silences_page(daphne_server, new_context, shoot, locale):
    (first, _second), pump = build_city()
    assert not Warning.objects.filter(sensor=pump).exists()
    texts = TEXTS[locale]
    page = new_context(locale=locale).new_page()

    log_in(page, daphne_server.url, "duty")

    # The silenced pump is marked as under maintenance on the map.
    expect(page.locator(f'.maintenance-marker[data-sensor-id="{pump.pk}"]')).to_be_visible()
    # The bridge's two warnings are one row, the worse one's, with the incident's chip.
    rows = page.locator("#warning-list .warning-item")
    expect(rows).to_have_count(1)
    chip = rows.first.locator(".incident-chip")
    expect(chip).to_have_text(texts["incident"])
    expect(chip).to_have_attribute("data-members", "2")
    expect(rows.first).to_have_attribute("data-warning-id", str(Warning.objects.get(sensor=first).pk))
    shoot(page, f"map-{locale}")

    rows.first.click()
    incident = page.locator("[data-detail-incident]")
    expect(incident.locator(".incident-members li")).to_have_count(2)
    shoot(page, f"incident-detail-{locale}")

    # From the warning page: silence the sensor; the form comes filled in.
    page.locator("[data-silence-sensor]").first.click()
    expect(page.locator("input[name=sensor]")).to_have_value("BR-1")
    page.fill("textarea[name=reason]", "桥面检测 / deck inspection")
    page.locator("#silence-form button[type=submit]").click()
    current = page.locator("#silences-current tbody tr")
    expect(current).to_have_count(2)
    expect(page.locator("#silences-current")).to_contain_text("桥面检测 / deck inspection")
    expect(page.locator("#silences-current")).to_contain_text("值班员")
    expect(page.locator("h1")).to_have_text(texts["silences"])
    shoot(page, f"silences-{locale}")

    # Ending the pump's silence early moves it to the ended list and opens its warning.
    pump_row = page.locator("#silences-current tr", has_text="PUMP-1")
    pump_row.get_by_role("button", name=texts["end"]).click()
    expect(page.locator("#silences-ended")).to_contain_text("PUMP-1")
    expect(page.locator("#silences-current tbody tr")).to_have_count(1)
    assert Warning.objects.get(sensor=pump).level == 1
    shoot(page, f"silence-ended-{locale}")


@pytest.mark.parametrize(
    ("locale", "passed_on"),
    [
        ("zh-CN", "由 #{id} 移交（已关闭）。"),  # noqa: RUF001
        ("en-GB", "Passed on from #{id} (Closed)."),
    ],
)
def test_an_incident_passed_on_says_from_which_warning(daphne_server, new_context, shoot, locale, passed_on):
    (first, second), _pump = build_city()
    primary = Warning.objects.get(sensor=first)
    officer = UserFactory(username="duty-2", roles=[DUTY_OFFICER])
    services.warning_close(warning_id=primary.pk, user=officer, note="桥面检测完毕", close_active=True)
    page = new_context(locale=locale).new_page()

    log_in(page, daphne_server.url, "duty")

    rows = page.locator("#warning-list .warning-item")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-warning-id", str(Warning.objects.get(sensor=second).pk))
    rows.first.click()
    incident = page.locator("[data-detail-incident]")
    expect(incident.locator(".incident-hand-over")).to_have_text(passed_on.format(id=primary.pk))
    expect(incident.locator(".incident-members li")).to_have_count(1)
    shoot(page, f"incident-passed-on-{locale}")
