"""The one map's detail says when a warning's rule has changed since it opened, with the thresholds then."""

import pytest
from playwright.sync_api import expect

from dispatch.models import WorkOrder
from tests.e2e.conftest import log_in
from tests.e2e.test_closing import expect_live, post
from tests.e2e.test_live_loop import build_city
from tests.live import wait_for
from warning.models import Warning

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_detail_shows_the_thresholds_in_force_when_the_warning_opened(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    city = build_city()
    duty = new_context().new_page()
    log_in(duty, url, "duty")
    expect_live(duty)

    post(url, city, city.sensor, 60.0)
    warning = wait_for(lambda: Warning.objects.filter(sensor=city.sensor).first(), timeout=15, what="the warning")
    # Routed first: the orders' pushes redraw the list, and a click while it is
    # redrawn can land on the row being replaced (as test_closing waits too).
    wait_for(lambda: WorkOrder.objects.filter(warning=warning).count() == 3, what="three work orders")
    rule = warning.rule
    before = {level: getattr(rule, f"level{level}_threshold") for level in (1, 2, 3)}
    duty.locator(f".warning-item[data-warning-id='{warning.pk}']").click()
    detail = duty.locator("#warning-detail")
    expect(detail.locator("table.thresholds")).to_be_visible()
    # The rule unchanged: no note.
    expect(detail.locator("[data-thresholds-at-opening]")).to_have_count(0)

    rule.level1_threshold = before[1] * 3
    rule.save()
    duty.reload()
    expect_live(duty)
    duty.locator(f".warning-item[data-warning-id='{warning.pk}']").click()

    note = detail.locator("[data-thresholds-at-opening]")
    expect(note).to_contain_text("预警发生后规则已修改")
    expect(note).to_contain_text(f"{before[1]:g}")
    expect(note).not_to_contain_text(f"{before[1] * 3:g}")
    shoot(duty, "thresholds-at-opening")
