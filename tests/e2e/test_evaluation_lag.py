"""The duty officer sees, in Chromium, when evaluation lags behind the readings."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.models import SensorState
from organisation.roles import DUTY_OFFICER
from tests.e2e.conftest import log_in
from tests.factories import SensorFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_says_how_far_evaluation_lags_and_clears_when_it_catches_up(daphne_server, new_context, shoot):
    UserFactory(username="duty", roles=[DUTY_OFFICER])
    sensor = SensorFactory()
    state = SensorState.objects.create(sensor=sensor, unevaluated_since=timezone.now() - timedelta(minutes=3))
    page = new_context().new_page()
    log_in(page, daphne_server.url, "duty")

    notice = page.locator("#evaluation-lag")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("评估")
    # Three minutes and however long a loaded machine took to render the page.
    expect(notice).to_contain_text(re.compile(r"0[345]:\d\d"))
    shoot(page, "01-lagging")

    state.unevaluated_since = None
    state.save()
    expect(notice).to_be_hidden(timeout=15_000)
    shoot(page, "02-caught-up")
