"""The duty officer's screen at the sizes it is watched on: a laptop (1366 x 768),
a desk monitor (1920 x 1080), a large monitor (2560 x 1440) and a 4K wall.

The demo city's roster has 21 units, taller than any of these screens; the
open warnings must still come first in the side column and be clickable.
"""

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from organisation.models import DepartmentKind, DutyShift, Shift
from tests.e2e.conftest import log_in
from tests.e2e.test_live_loop import build_city, post_reading
from tests.factories import DepartmentFactory, UserFactory
from tests.live import wait_for
from warning.models import Warning

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENS = [(1366, 768), (1920, 1080), (2560, 1440), (3840, 2160)]
# The demo city: the operations centre and 20 departments on duty (demo.loading).
ROSTER_UNITS = 21


def demo_sized_roster(duty) -> None:
    today = timezone.localdate()
    DutyShift.objects.create(department=None, date=today, shift=Shift.ALL_DAY, person_on_duty=duty)
    for number in range(ROSTER_UNITS - 1):
        department = DepartmentFactory(
            code=f"unit-{number:02d}",
            name=f"合肥市第{number + 1}燃气供应服务中心应急抢修队",
            kind=DepartmentKind.ENTERPRISE,
        )
        person = UserFactory(username=f"on-duty-{number:02d}", first_name=f"值班人员{number + 1:02d}")
        DutyShift.objects.create(
            department=department, date=today, shift=Shift.ALL_DAY, person_on_duty=person, leader_on_duty=person
        )


def inside_viewport(page: Page, selector: str) -> bool:
    return page.evaluate(
        """(selector) => {
          const node = document.querySelector(selector);
          if (!node) return false;
          const box = node.getBoundingClientRect();
          return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight && box.right <= window.innerWidth;
        }""",
        selector,
    )


def test_the_open_warnings_come_first_beside_a_demo_sized_roster_at_every_screen_size(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    city = build_city()
    demo_sized_roster(city.duty)
    post_reading(url, city, 60.0)
    warning = wait_for(lambda: Warning.objects.filter(sensor=city.sensor).first(), timeout=15, what="the warning")

    duty = new_context().new_page()
    log_in(duty, url, "duty")
    item = duty.locator(f".warning-item[data-warning-id='{warning.pk}']")
    roster = duty.locator("#roster-today")
    detail = duty.locator("#warning-detail")
    for width, height in SCREENS:
        duty.set_viewport_size({"width": width, "height": height})
        duty.goto(f"{url}/dashboard/")
        expect(item).to_be_visible()
        # The list has room for several warnings, whole on the screen, not pushed below it.
        list_height = duty.evaluate("document.querySelector('.warning-list-wrap').getBoundingClientRect().height")
        assert list_height >= 180, (width, height, list_height)
        assert inside_viewport(duty, f".warning-item[data-warning-id='{warning.pk}']"), (width, height)
        # The roster is one click away, folded, and says how many units it holds.
        expect(roster.locator("summary")).to_be_visible()
        expect(roster.locator("summary")).to_contain_text(f"{ROSTER_UNITS} 个单位")
        expect(roster.locator("[data-roster-unit='city']")).to_be_hidden()
        shoot(duty, f"{width}x{height}-01-warnings-first")

        item.click()
        expect(detail).to_be_visible()
        expect(detail.locator(f"[data-detail-id='{warning.pk}']")).to_be_visible()
        shoot(duty, f"{width}x{height}-02-warning-open")
        detail.locator("[data-close-detail]").click()
        expect(detail).to_be_hidden()

        # Opened, the roster scrolls in its own box: the first warning stays clickable.
        roster.locator("summary").click()
        expect(roster.locator("[data-roster-unit='city']")).to_be_visible()
        expect(roster.locator("[data-roster-unit='city']")).to_contain_text("值班员")
        assert inside_viewport(duty, "#roster-today summary"), (width, height)
        expect(item).to_be_visible()
        assert inside_viewport(duty, f".warning-item[data-warning-id='{warning.pk}']"), (width, height)
        shoot(duty, f"{width}x{height}-03-roster-open")
        item.click()
        expect(detail.locator(f"[data-detail-id='{warning.pk}']")).to_be_visible()

    # The other pages on the wall: the work-order queue, drawn as large as the map's panels.
    duty.goto(f"{url}/work-orders/")
    expect(duty.locator(".wo-card").first).to_be_visible()
    card_width = duty.evaluate("document.querySelector('.wo-card').getBoundingClientRect().width")
    assert card_width >= 400, card_width
    shoot(duty, "3840x2160-04-work-orders")
