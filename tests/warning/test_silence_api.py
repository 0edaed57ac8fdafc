"""Silences over the API, with department isolation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import SensorFactory
from warning.models import Silence

pytestmark = pytest.mark.django_db

URL = "/api/v1/silences/"


def later(hours: float = 2) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def sensors(department_a, department_b):
    return {
        "a": SensorFactory(code="GAS-A", owner_department=department_a),
        "b": SensorFactory(code="WATER-B", owner_department=department_b),
    }


def test_a_duty_officer_silences_a_district_and_lists_it(client, duty_officer, sensors):
    client.force_login(duty_officer)

    response = client.post(
        URL,
        {"district": sensors["a"].district.code, "reason": "Road works", "ends_at": later()},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["target"]["kind"] == "district"
    assert body["in_force"] is True
    listed = client.get(URL).json()["results"]
    assert [row["reason"] for row in listed] == ["Road works"]


def test_department_staff_silence_their_own_sensor_only(client, staff_a, sensors):
    client.force_login(staff_a)

    own = client.post(
        URL, {"sensor": "GAS-A", "reason": "Valve work", "ends_at": later()}, content_type="application/json"
    )
    other = client.post(URL, {"sensor": "WATER-B", "reason": "x", "ends_at": later()}, content_type="application/json")
    district = client.post(
        URL,
        {"district": sensors["a"].district.code, "reason": "x", "ends_at": later()},
        content_type="application/json",
    )

    assert own.status_code == 201, own.content
    assert other.status_code == 400
    assert district.status_code == 403
    assert "one sensor at a time" in district.json()["detail"]
    assert list(Silence.objects.values_list("sensor__code", flat=True)) == ["GAS-A"]


def test_department_staff_see_and_end_only_their_departments_silences(client, staff_a, duty_officer, sensors):
    now = timezone.now()
    theirs = Silence.objects.create(
        sensor=sensors["b"], reason="B's work", created_by=duty_officer, starts_at=now, ends_at=now + timedelta(hours=1)
    )
    own = Silence.objects.create(
        sensor=sensors["a"], reason="A's work", created_by=duty_officer, starts_at=now, ends_at=now + timedelta(hours=1)
    )
    client.force_login(staff_a)

    assert [row["id"] for row in client.get(URL).json()["results"]] == [own.pk]
    assert client.post(f"{URL}{theirs.pk}/end/").status_code == 404
    ended = client.post(f"{URL}{own.pk}/end/")
    assert ended.status_code == 200
    assert ended.json()["in_force"] is False
    again = client.post(f"{URL}{own.pk}/end/")
    assert again.status_code == 409
    assert "already ended" in again.json()["detail"]


def test_a_silence_ending_before_it_starts_is_a_400_saying_what_to_change(client, duty_officer, sensors):
    client.force_login(duty_officer)

    response = client.post(
        URL,
        {"sensor": "GAS-A", "reason": "Work", "starts_at": later(3), "ends_at": later(1)},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "ends before it starts" in str(response.json())
    assert not Silence.objects.exists()


def test_anonymous_callers_get_nothing(client):
    assert client.get(URL).status_code in {401, 403}


def test_a_silence_naming_one_target_and_the_others_empty_covers_that_one(client, duty_officer, sensors):
    client.force_login(duty_officer)

    response = client.post(
        URL,
        {"sensor": "GAS-A", "gateway": None, "district": "", "sensor_type": "", "reason": "Work", "ends_at": later()},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["target"]["kind"] == "sensor"


@pytest.mark.parametrize("two", [False, True], ids=["no target", "two targets"])
def test_a_silence_of_no_target_or_two_is_refused_naming_the_fields(client, duty_officer, sensors, two):
    client.force_login(duty_officer)
    targets = {"sensor": "GAS-A", "district": sensors["a"].district.code} if two else {"district": ""}

    response = client.post(URL, {**targets, "reason": "Work", "ends_at": later()}, content_type="application/json")

    assert response.status_code == 400
    message = response.json()["non_field_errors"][0]
    assert "silence_one_target" not in message
    for field in ("sensor", "gateway", "district", "sensor_type"):
        assert field in message
    assert not Silence.objects.exists()


def test_a_silence_of_an_unknown_or_unseen_sensor_is_a_field_error(client, staff_a, sensors):
    client.force_login(staff_a)

    for code in ("NO-SUCH", "WATER-B"):
        response = client.post(
            URL, {"sensor": code, "reason": "x", "ends_at": later()}, content_type="application/json"
        )

        assert response.status_code == 400, response.content
        assert response.json() == {"sensor": [f"No sensor with code {code} among the sensors you may silence."]}
    assert not Silence.objects.exists()


def test_a_silence_posted_as_a_form_takes_empty_and_null_targets_as_absent(client, duty_officer, sensors):
    client.force_login(duty_officer)

    response = client.post(
        URL, {"sensor": "GAS-A", "gateway": "", "district": "", "reason": "Valve work", "ends_at": later()}
    )

    assert response.status_code == 201, response.content
    assert response.json()["target"]["code"] == "GAS-A"


def test_the_chinese_refusal_of_two_targets_is_chinese(client, duty_officer, sensors):
    client.force_login(duty_officer)

    response = client.post(
        URL,
        {"sensor": "GAS-A", "district": sensors["a"].district.code, "reason": "x", "ends_at": later()},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )

    assert response.status_code == 400
    assert "约束" not in response.json()["non_field_errors"][0]
    assert "sensor_type" in response.json()["non_field_errors"][0]
