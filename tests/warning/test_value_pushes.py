"""A warning's new value reaches the duty officers' screens without a change
of level, at most once per warning per WARNING_VALUE_PUSH_SECONDS.

Real Celery worker (the coalesced push is a countdown task), real Redis
channel layer, listened to as the duty officers' group.
"""

import asyncio
import time
from datetime import timedelta
from itertools import pairwise

import pytest
from channels_redis.core import RedisChannelLayer
from django.db import connections
from django.utils import timezone

from citysafety import realtime
from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, ThresholdRuleFactory
from tests.live import redis_url_for_tests
from warning import services
from warning.models import Warning

pytestmark = [pytest.mark.django_db(transaction=True)]

# The values a Level I warning reads after it opened, all in the Level II
# range: no transition, so today nothing would be pushed.
VALUES = [30.0, 31.0, 32.0, 33.0, 34.0, 35.0, 36.0, 37.0]


def test_value_updates_are_pushed_coalesced_and_end_on_the_newest(celery_worker_process, settings):
    sensor = SensorFactory(sensor_type=ThresholdRuleFactory().sensor_type)  # above: III 10, II 20, I 50
    start = timezone.now() - timedelta(minutes=30)

    def feed(offset: int, value: float) -> None:
        at = start + timedelta(minutes=offset)
        readings_record_stored(readings=[Reading.objects.create(sensor=sensor, observed_at=at, value=value)])
        services.sensor_evaluate(sensor_id=sensor.pk)

    feed(0, 60.0)
    warning = Warning.objects.get(sensor=sensor)

    def feed_the_values() -> None:
        try:
            for offset, value in enumerate(VALUES, start=1):
                feed(offset, value)
                time.sleep(0.15)  # a sensor reporting fast: several readings per push window
        finally:
            connections.close_all()

    async def listen() -> list[tuple[float, dict]]:
        layer = RedisChannelLayer(hosts=[redis_url_for_tests()])
        channel = await layer.new_channel()
        await layer.group_add(realtime.DUTY_GROUP, channel)
        received: list[tuple[float, dict]] = []

        async def collect() -> None:
            while True:
                message = await layer.receive(channel)
                if message["type"] == "warning.changed" and message["payload"]["id"] == warning.pk:
                    received.append((time.monotonic(), message["payload"]))

        collector = asyncio.create_task(collect())
        await asyncio.to_thread(feed_the_values)
        deadline = time.monotonic() + 15
        # Until the newest value arrived, and a push window and a half more (nothing may follow it).
        while time.monotonic() < deadline and not (received and received[-1][1]["last_value"] == VALUES[-1]):
            await asyncio.sleep(0.05)
        await asyncio.sleep(settings.WARNING_VALUE_PUSH_SECONDS * 1.5)
        collector.cancel()
        await layer.group_discard(realtime.DUTY_GROUP, channel)
        return received

    received = asyncio.run(listen())

    values = [payload["last_value"] for _, payload in received]
    assert values, "no value update was pushed"
    assert values[-1] == VALUES[-1]
    assert all(payload["level"] == 1 and payload["current_level"] == 2 for _, payload in received)
    # Coalesced: fewer pushes than readings, spaced by the window (less delivery jitter).
    assert len(values) < len(VALUES), values
    gaps = [later - earlier for (earlier, _), (later, _) in pairwise(received)]
    assert all(gap >= settings.WARNING_VALUE_PUSH_SECONDS * 0.5 for gap in gaps), gaps
