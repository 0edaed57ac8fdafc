"""A report photo's own time and place beside it, in real browsers: the duty
officer sees when and how far from the sensor each photo was taken, and a
photo taken 5 km away is flagged."""

import pytest
from playwright.sync_api import expect

from dispatch import services
from dispatch.models import RoutingPolicy, WorkOrder
from tests.dispatch.test_photo_metadata import exif_jpeg
from tests.e2e.conftest import log_in
from tests.e2e.test_live_loop import build_city, expect_live, post_reading
from tests.live import ARTIFACTS, wait_for
from warning.models import Warning

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

METRES_PER_DEGREE = 111_320


def test_the_duty_officer_sees_where_each_photo_was_taken_and_one_far_away_is_flagged(
    daphne_server, celery_worker_process, new_context, shoot, settings
):
    # The photos are stored here, by this process, where daphne reads them (tests/live.py).
    settings.MEDIA_ROOT = ARTIFACTS / "media"
    url = daphne_server.url
    city = build_city()
    # One minute to acknowledge: the timeline must say "1 minute", not "1 minutes".
    RoutingPolicy.objects.filter(level=3).update(ack_deadline_minutes=1)
    post_reading(url, city, 12.0)  # Level III: the gas company alone
    warning = wait_for(lambda: Warning.objects.filter(sensor=city.sensor).first(), timeout=15, what="the warning")
    order = wait_for(lambda: WorkOrder.objects.filter(warning=warning).first(), what="the work order")
    services.work_order_acknowledge(work_order_id=order.pk, user=city.gas_staff)
    services.work_order_arrive(work_order_id=order.pk, user=city.gas_staff)
    x, y = city.sensor.location.x, city.sensor.location.y
    for name, data in (
        ("阀井.jpg", exif_jpeg(lon=x, lat=y + 80 / METRES_PER_DEGREE)),
        ("别处.jpg", exif_jpeg(lon=x, lat=y + 5000 / METRES_PER_DEGREE, taken="2026:12:07 08:15:00")),
        ("截图.jpg", exif_jpeg(lon=None, lat=None, taken=None)),
    ):
        services.work_order_photo_add(work_order_id=order.pk, user=city.gas_staff, name=name, data=data)

    duty = new_context().new_page()
    log_in(duty, url, "duty")
    expect_live(duty)
    duty.locator(f".warning-item[data-warning-id='{warning.pk}']").click()
    card = duty.locator(f"#warning-detail .wo-card[data-order-id='{order.pk}']")
    facts = card.locator("[data-photos] .wo-photo-facts")
    expect(facts).to_have_count(3)
    for image in card.locator("[data-photos] img").all():
        expect(image).to_have_js_property("naturalWidth", 320)
    expect(facts.nth(0).locator("[data-photo-taken]")).to_have_text("拍摄于 2026-12-07 09:30:00")
    expect(facts.nth(0).locator("[data-photo-place]")).to_have_text("距传感器 80 米")
    expect(facts.nth(0).locator("[data-photo-place]")).to_have_attribute("data-far", "false")
    expect(facts.nth(1).locator("[data-photo-taken]")).to_have_text("拍摄于 2026-12-07 08:15:00")
    expect(facts.nth(1).locator("[data-photo-place]")).to_have_text("⚠ 距传感器 5.0 公里")
    expect(facts.nth(1).locator("[data-photo-place]")).to_have_attribute("data-far", "true")
    expect(facts.nth(2)).to_contain_text("照片中无拍摄时间")
    expect(facts.nth(2)).to_contain_text("照片中无拍摄地点")
    card.scroll_into_view_if_needed()
    shoot(duty, "01-photo-facts-and-far-flag")

    # In English: the same facts, and the timeline's sentence chosen by its count in the page.
    english = new_context(locale="en-GB").new_page()
    log_in(english, url, "duty")
    expect_live(english)
    english.locator(f".warning-item[data-warning-id='{warning.pk}']").click()
    card = english.locator(f"#warning-detail .wo-card[data-order-id='{order.pk}']")
    facts = card.locator("[data-photos] .wo-photo-facts")
    expect(facts.nth(0)).to_contain_text("Taken 2026-12-07 09:30:00")
    expect(facts.nth(0).locator("[data-photo-place]")).to_have_text("80 m from the sensor")
    expect(facts.nth(1).locator("[data-photo-place]")).to_have_text("⚠ 5.0 km from the sensor")
    expect(facts.nth(2)).to_contain_text("No place in the photo")
    expect(card.locator(".timeline li.k-created [data-summary]")).to_have_text(
        "Routed at Level III (yellow); acknowledge within 1 minute."
    )
    card.scroll_into_view_if_needed()
    shoot(english, "02-in-english-one-minute")
