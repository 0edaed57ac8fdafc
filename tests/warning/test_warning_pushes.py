"""A warning's change reaches the duty officers' screens once its transaction commits: every warning a
chunk of evaluation changed goes out from one callback, read in one query, in the API's shape."""

from datetime import timedelta

import pytest
from django.utils import timezone

from citysafety import realtime
from monitoring.models import Asset, AssetKind, Reading
from monitoring.services import readings_record_stored
from tests.factories import DistrictFactory, SensorFactory, ThresholdRuleFactory
from warning import services
from warning.api.serializers import WarningSummarySerializer
from warning.models import Warning
from warning.selectors import warning_payloads, warnings_with_details

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule():
    return ThresholdRuleFactory()  # above: III 10, II 20, I 50


def store(sensor, *values, minutes_ago=10):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    readings_record_stored(
        readings=Reading.objects.bulk_create(
            Reading(sensor=sensor, observed_at=at + timedelta(minutes=n), value=value) for n, value in enumerate(values)
        )
    )


@pytest.fixture
def pushed(monkeypatch):
    sent = []
    monkeypatch.setattr(
        realtime,
        "send_many",
        lambda messages: sent.extend((event_type, payload) for _g, event_type, payload in messages),
    )
    return sent


def test_the_push_is_the_apis_summary_of_the_warning_field_for_field(rule):
    district = DistrictFactory()
    bridge = Asset.objects.create(code="bridge-1", name="Nanfei River bridge", kind=AssetKind.BRIDGE)
    sensors = [SensorFactory(sensor_type=rule.sensor_type, district=district, asset=bridge) for _ in range(2)]
    sensors.append(SensorFactory(sensor_type=rule.sensor_type))
    for sensor in sensors:
        store(sensor, 60.0)
    services.sensors_evaluate(sensor_ids=[s.pk for s in sensors])
    warnings = list(warnings_with_details().filter(sensor__in=sensors).order_by("pk"))
    assert warnings[1].incident is not None  # one with an incident and an asset, one on its own

    payloads = warning_payloads([w.pk for w in warnings])

    assert payloads == [dict(WarningSummarySerializer(w).data) for w in warnings]


def test_the_pushes_of_many_warnings_are_read_in_one_query(rule, django_assert_num_queries):
    sensors = [SensorFactory(sensor_type=rule.sensor_type) for _ in range(5)]
    for sensor in sensors:
        store(sensor, 60.0)
    services.sensors_evaluate(sensor_ids=[s.pk for s in sensors])
    ids = list(Warning.objects.values_list("pk", flat=True))

    with django_assert_num_queries(1):
        assert len(warning_payloads(ids)) == 5


def test_a_chunk_pushes_each_warning_it_changed_once_after_the_commit_first_of_all(
    rule, pushed, django_capture_on_commit_callbacks
):
    sensors = [SensorFactory(sensor_type=rule.sensor_type) for _ in range(3)]
    for sensor in sensors:
        store(sensor, 15.0, 60.0, 5.0)  # opened, escalated, recovered: three changes each

    with django_capture_on_commit_callbacks() as callbacks:
        services.sensors_evaluate(sensor_ids=[s.pk for s in sensors])
    assert pushed == []  # nothing before the commit
    callbacks[0]()  # the first thing done after it

    warnings = Warning.objects.order_by("pk")
    assert [(kind, payload["id"]) for kind, payload in pushed] == [("warning.changed", w.pk) for w in warnings]
    assert {payload["status"] for _kind, payload in pushed} == {"recovered"}
