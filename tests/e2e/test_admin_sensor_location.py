"""In Chromium, the administrator who swaps latitude and longitude is told so by the admin."""

import json

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from playwright.sync_api import expect

from monitoring.models import Sensor
from organisation.roles import ADMINISTRATOR
from tests.e2e.conftest import log_in
from tests.factories import DistrictFactory, SensorTypeFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BAOHE = ((117.2, 31.7), (117.4, 31.7), (117.4, 32.0), (117.2, 32.0), (117.2, 31.7))


def test_a_sensor_with_swapped_coordinates_is_refused_with_the_swap_named(daphne_server, new_context, shoot):
    UserFactory(username="admin", roles=[ADMINISTRATOR], is_staff=True, is_superuser=True)
    DistrictFactory(code="340111", name="包河区", boundary=MultiPolygon(Polygon(BAOHE)))
    sensor_type = SensorTypeFactory()
    page = new_context().new_page()
    log_in(page, daphne_server.url, "admin")

    page.goto(f"{daphne_server.url}/admin/monitoring/sensor/add/")
    expect(page.locator("#site-name")).to_have_text("城市安全风险综合监测预警平台")
    page.fill("input[name=code]", "GAS-0001")
    page.fill("input[name=name]", "望江路阀门井")
    # The type is an autocomplete (select2) and the point is drawn on the
    # map: set what they would leave in the form, latitude first by mistake.
    page.evaluate(
        """([typeId, point]) => {
            const select = document.querySelector("select[name=sensor_type]");
            select.add(new Option("type", typeId, true, true));
            document.querySelector("#id_location").value = point;
        }""",
        [str(sensor_type.pk), json.dumps({"type": "Point", "coordinates": [31.85, 117.3]})],
    )
    page.click("input[name=_save]")

    errors = page.locator(".errornote, ul.errorlist")
    expect(errors.first).to_be_visible()
    location_error = page.locator(".field-location ul.errorlist")
    expect(location_error).to_contain_text("不在本市任何区县内")
    expect(location_error).to_contain_text("内。经纬度似乎填反了：经度 117.3，纬度 31.85 位于包河区。")  # noqa: RUF001
    location_error.scroll_into_view_if_needed()
    shoot(page, "01-swapped-coordinates-refused")
    assert not Sensor.objects.exists()
