"""In Chromium, an administrator edits a saved rule into a duration rule and
asks, before saving, what it would have raised: the backtest opens in a new
tab, beside the rule as saved, in the reader's language; nothing is saved."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.models import Reading
from organisation.roles import ADMINISTRATOR
from tests.e2e.conftest import log_in
from tests.factories import SensorFactory, SensorTypeFactory, ThresholdRuleFactory, UserFactory
from warning.models import ThresholdRule

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXTS = {
    "zh-CN": {"button": "这条规则会产生哪些预警？", "replayed": "连续 3 个读数"},  # noqa: RUF001
    "en-GB": {"button": "What would this rule have raised?", "replayed": "only once 3 readings in a row reached it"},
}


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_a_rule_changed_into_a_duration_is_backtested_before_saving(daphne_server, new_context, shoot, locale):
    texts = TEXTS[locale]
    UserFactory(username="admin", roles=[ADMINISTRATOR], is_staff=True, is_superuser=True)
    sensor_type = SensorTypeFactory()
    rule = ThresholdRuleFactory(sensor_type=sensor_type, level3_threshold=10, level2_threshold=20, level1_threshold=50)
    sensor = SensorFactory(sensor_type=sensor_type, code="PIPE-0007")
    now = timezone.now()
    # Two short spikes the saved rule warns of, and one run of three readings the duration rule keeps.
    values = [12, 2, 13, 2, 12, 13, 14, 2]
    Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=now - timedelta(minutes=len(values) - i), value=value)
        for i, value in enumerate(values)
    )

    page = new_context(locale=locale).new_page()
    log_in(page, daphne_server.url, "admin")
    page.goto(f"{daphne_server.url}/admin/warning/thresholdrule/{rule.pk}/change/")
    page.fill("#id_hold_readings", "3")
    with page.context.expect_page() as opened:
        page.get_by_role("button", name=texts["button"]).click()
    result = opened.value
    result.wait_for_load_state()

    expect(result.locator("body")).to_contain_text(texts["replayed"])
    expect(result.locator("body")).to_contain_text("PIPE-0007")
    shoot(result, f"01-duration-backtest-{locale}")
    # Nothing was saved: the rule is still the one without a hold.
    rule.refresh_from_db()
    assert rule.hold_readings in (None, 0)
    assert ThresholdRule.objects.count() == 1
