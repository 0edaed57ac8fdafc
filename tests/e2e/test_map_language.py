"""The map's own controls speak the page's language, not Leaflet's English."""

import pytest
from playwright.sync_api import expect

from organisation.roles import DUTY_OFFICER
from tests.e2e.conftest import log_in
from tests.factories import DistrictFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("locale", "zoom_in", "zoom_out", "layers"),
    [("zh-CN", "放大", "缩小", "图层"), ("en-GB", "Zoom in", "Zoom out", "Layers")],
)
def test_the_zoom_and_layer_buttons_are_titled_in_the_pages_language(
    daphne_server, new_context, shoot, locale, zoom_in, zoom_out, layers
):
    DistrictFactory(code="340102", name="瑶海区")
    UserFactory(username="duty", first_name="值班员", roles=[DUTY_OFFICER])
    page = new_context(locale=locale).new_page()

    log_in(page, daphne_server.url, "duty")

    expect(page.locator(".leaflet-control-zoom-in")).to_have_attribute("title", zoom_in)
    expect(page.locator(".leaflet-control-zoom-out")).to_have_attribute("title", zoom_out)
    expect(page.locator(".leaflet-control-layers-toggle")).to_have_attribute("title", layers)
    # One zoom control only: Leaflet's English one is not added beside ours.
    expect(page.locator(".leaflet-control-zoom")).to_have_count(1)
    shoot(page, f"map-controls-{locale}")
