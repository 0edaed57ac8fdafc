"""The duty officer's map says, in red, when a background process has stopped:
a platform that silently stopped evaluating is the worst failure it can have.
Screenshots go to test-artifacts/e2e/."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from citysafety.models import Heartbeat, ProcessKind
from organisation.roles import DUTY_OFFICER
from tests.e2e.conftest import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXTS = {
    "zh-CN": "Celery 定时调度未在运行",
    "en-GB": "Celery beat is not running",
}


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_a_stopped_beat_is_a_red_banner_until_it_beats_again(daphne_server, new_context, shoot, locale):
    UserFactory(username="duty", first_name="值班员", roles=[DUTY_OFFICER])
    now = timezone.now()
    # Beat ran and shut down an hour ago; the bridge never ran here (no banner for it).
    beat = Heartbeat.objects.create(
        kind=ProcessKind.BEAT,
        name="beat@ops-1",
        started_at=now - timedelta(days=1),
        beat_at=now - timedelta(hours=1),
        stopped_at=now - timedelta(hours=1),
    )
    page = new_context(locale=locale).new_page()
    log_in(page, daphne_server.url, "duty")
    page.goto(f"{daphne_server.url}/dashboard/")

    banner = page.locator("#health-banner")
    expect(banner).to_be_visible()
    expect(banner.locator('[data-process="beat"]')).to_contain_text(TEXTS[locale])
    expect(banner.locator('[data-process="mqtt_bridge"]')).to_have_count(0)
    shoot(page, f"{locale}-01-beat-stopped")

    Heartbeat.objects.filter(pk=beat.pk).update(beat_at=timezone.now(), stopped_at=None)
    page.evaluate("window.citysafetyDashboard.checkHealth()")
    expect(banner).to_be_hidden()
    shoot(page, f"{locale}-02-beat-back")
