"""POST /api/v1/readings/ keeps its contract: JSON only, and integrators read English unless they ask."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from monitoring.models import Reading
from monitoring.mqtt import handle_message, subscription
from tests.factories import SensorFactory

URL = "/api/v1/readings/"


@pytest.fixture
def sensor(gateway):
    return SensorFactory(code="GAS-0001", gateway=gateway)


def _batch(sensor) -> list[dict]:
    return [{"sensor": sensor.code, "observed_at": (timezone.now() - timedelta(minutes=1)).isoformat(), "value": 1.5}]


def _bad_batch(sensor) -> list[dict]:
    return [
        {"sensor": "NOPE-1", "observed_at": timezone.now().isoformat(), "value": 1.0},
        {"sensor": sensor.code, "observed_at": "2026-11-21T08:00:00", "value": 1.0},
        {"sensor": sensor.code, "observed_at": timezone.now().isoformat(), "value": "high"},
    ]


@pytest.mark.parametrize(
    ("content_type", "said"),
    [
        ("text/plain", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("multipart/form-data; boundary=xyz", "multipart/form-data; boundary=xyz"),
        ("", "no content type"),
    ],
)
def test_anything_but_json_is_refused_with_415_and_nothing_is_stored(client, gateway, sensor, content_type, said):
    response = client.generic(
        "POST",
        URL,
        json.dumps(_batch(sensor)),
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {gateway.token}",
    )

    assert response.status_code == 415, response.content
    assert response.json() == {
        "detail": "Send the readings as JSON with the header Content-Type: application/json "
        f"(this request said: {said})."
    }
    assert not Reading.objects.exists()


def test_json_with_a_charset_is_json(client, gateway, sensor):
    response = client.post(
        URL,
        json.dumps(_batch(sensor)),
        content_type="application/json; charset=utf-8",
        HTTP_AUTHORIZATION=f"Bearer {gateway.token}",
    )

    assert response.status_code == 200, response.content
    assert Reading.objects.count() == 1


def test_a_wrong_content_type_without_a_token_is_still_unauthorised(client, sensor):
    response = client.post(URL, json.dumps(_batch(sensor)), content_type="text/plain")

    assert response.status_code == 401


def _item_messages(client, gateway, sensor, **headers) -> list[str]:
    response = client.post(
        URL,
        json.dumps(_bad_batch(sensor)),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {gateway.token}",
        **headers,
    )
    assert response.status_code == 422, response.content
    return [error["message"] for error in response.json()["errors"]]


ENGLISH = [
    "unknown sensor 'NOPE-1'.",
    "'2026-11-21T08:00:00' has no time zone; add one, e.g. +08:00 or Z.",
    "must be a number, not a string.",
]


def test_item_errors_are_english_when_the_request_names_no_language(client, gateway, sensor):
    # The pages' default language is Chinese, and a browser's cookie says so too.
    client.cookies["django_language"] = "zh-hans"

    with translation.override("zh-hans"):
        assert _item_messages(client, gateway, sensor) == ENGLISH
        assert _item_messages(client, gateway, sensor, HTTP_ACCEPT_LANGUAGE="fr-FR, de;q=0.8") == ENGLISH


def test_item_errors_follow_the_language_the_request_asks_for(client, gateway, sensor):
    chinese = _item_messages(client, gateway, sensor, HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert chinese == [
        "未知的传感器“NOPE-1”。",
        "“2026-11-21T08:00:00”没有时区；请加上时区，例如 +08:00 或 Z。",  # noqa: RUF001
        "必须是数字，不能是字符串。",  # noqa: RUF001
    ]
    assert _item_messages(client, gateway, sensor, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.8") == chinese
    assert _item_messages(client, gateway, sensor, HTTP_ACCEPT_LANGUAGE="en-US,zh;q=0.5") == ENGLISH


def test_mqtt_answers_stay_english_whatever_language_the_bridge_runs_in(gateway, sensor):
    topic = subscription().replace("+", gateway.code)
    payload = json.dumps({"token": gateway.token, "readings": _bad_batch(sensor)}).encode()

    with translation.override("zh-hans"):
        reply = handle_message(topic, payload)

    assert reply.body["status"] == 422
    assert [error["message"] for error in reply.body["errors"]] == ENGLISH


def test_a_reading_at_an_offset_postgresql_does_not_take_is_stored_at_its_instant(client, gateway, sensor):
    # ISO 8601 and Python take offsets up to ±23:59, PostgreSQL up to ±15:59:
    # the whole batch failed with a 500 before.
    instant = (timezone.now() - timedelta(minutes=5)).replace(microsecond=0)
    stamp = (instant + timedelta(hours=18, minutes=15)).replace(tzinfo=None).isoformat() + "+18:15"

    response = client.post(
        URL,
        json.dumps([{"sensor": sensor.code, "observed_at": stamp, "value": 2.5}]),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {gateway.token}",
    )

    assert response.status_code == 200, response.content
    assert list(Reading.objects.values_list("observed_at", flat=True)) == [instant]
