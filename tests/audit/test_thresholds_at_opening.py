"""Which thresholds were in force when a warning opened: read from the audit trail, not from today's rule."""

from datetime import timedelta

import pghistory
import pytest
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning import selectors, services
from warning.models import Warning

# Each statement commits on its own: the trail's times are the database's
# transaction times, which one test-wide transaction would make all equal.
pytestmark = pytest.mark.django_db(transaction=True)


def open_a_warning(rule, value: float = 25.0) -> Warning:
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    stored = Reading.objects.bulk_create([Reading(sensor=sensor, observed_at=timezone.now(), value=value)])
    readings_record_stored(readings=stored)
    services.sensor_evaluate(sensor_id=sensor.pk)
    return Warning.objects.get(sensor=sensor)


def test_the_thresholds_at_opening_survive_a_later_change_of_the_rule(client, duty_officer):
    rule = ThresholdRuleFactory()  # III 10, II 20, I 50
    warning = open_a_warning(rule)
    with pghistory.context(username="admin"):
        rule.level2_threshold = 30.0
        rule.level1_threshold = 80.0
        rule.save()
    client.force_login(duty_officer)

    detail = client.get(f"/api/v1/warnings/{warning.pk}/").json()

    at_opening = detail["thresholds_at_opening"]
    assert (at_opening["level3_threshold"], at_opening["level2_threshold"], at_opening["level1_threshold"]) == (
        10.0,
        20.0,
        50.0,
    )
    assert at_opening["changed_since"] is True
    assert at_opening["in_force_since"] is not None
    # Today's rule says otherwise.
    rule.refresh_from_db()
    assert rule.level2_threshold == 30.0


def test_an_unchanged_rule_says_so():
    rule = ThresholdRuleFactory()
    warning = open_a_warning(rule)

    at_opening = selectors.thresholds_in_force(rule, warning.opened_at)

    assert (at_opening["level2_threshold"], at_opening["changed_since"]) == (20.0, False)


def test_a_rule_older_than_the_trail_still_answers_from_its_first_change():
    """A warning opened before the rule's first recorded event (the rule predates the trail)."""
    rule = ThresholdRuleFactory()
    opened_long_ago = timezone.now() - timedelta(days=3)
    rule.level3_threshold = 12.0
    rule.save()
    rule.level3_threshold = 14.0
    rule.save()

    at_opening = selectors.thresholds_in_force(rule, opened_long_ago)

    assert at_opening["level3_threshold"] == 10.0
    assert at_opening["in_force_since"] is None
    assert at_opening["changed_since"] is True


def test_department_staff_see_no_warning_detail_and_so_no_thresholds(client, staff_a, staff_b, duty_officer):
    rule = ThresholdRuleFactory()
    warning = open_a_warning(rule)

    for person in (staff_a, staff_b):
        client.force_login(person)
        response = client.get(f"/api/v1/warnings/{warning.pk}/")
        assert response.status_code in (403, 404)
        assert "thresholds_at_opening" not in response.content.decode()
    client.force_login(duty_officer)
    assert "thresholds_at_opening" in client.get(f"/api/v1/warnings/{warning.pk}/").json()


def test_the_warning_admin_shows_the_thresholds_at_opening(admin_client):
    rule = ThresholdRuleFactory()
    warning = open_a_warning(rule)
    rule.level2_threshold = 30.0
    rule.save()

    page = admin_client.get(f"/admin/warning/warning/{warning.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Thresholds when it opened" in html
    assert "II 20.0" in html
    assert "the rule has changed since" in html
