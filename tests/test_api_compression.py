"""The API's large JSON answers travel gzipped to a client that accepts it;
small ones, pages and clients that do not accept gzip get them as they are."""

import gzip
import json

import pytest
from django.utils import timezone

from tests.factories import SensorFactory, ThresholdRuleFactory
from warning.models import Level, Warning, WarningStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def many_sensors():
    # Some 300 bytes of GeoJSON each: the list is well past the threshold.
    return [SensorFactory(code=f"GAS-{number:04d}") for number in range(20)]


def gunzipped(response) -> bytes:
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    return gzip.decompress(response.content)


@pytest.mark.parametrize("path", ["/api/v1/sensors/geojson/", "/api/v1/schema/", "/api/v1/schema/?format=json"])
def test_a_large_api_answer_is_gzipped_for_a_client_that_accepts_it(client, duty_officer, many_sensors, path):
    client.force_login(duty_officer)
    plain = client.get(path)

    zipped = client.get(path, HTTP_ACCEPT_ENCODING="gzip, deflate, br")

    assert plain.status_code == zipped.status_code == 200
    assert not plain.has_header("Content-Encoding")
    assert len(zipped.content) < len(plain.content) / 3
    assert gunzipped(zipped) == plain.content


def test_a_long_warning_list_is_gzipped(client, duty_officer, many_sensors):
    rule = ThresholdRuleFactory(sensor_type=many_sensors[0].sensor_type)
    now = timezone.now()
    for sensor in many_sensors:
        Warning.objects.create(
            sensor=sensor,
            rule=rule,
            level=Level.III,
            status=WarningStatus.ACTIVE,
            opened_at=now,
            first_value=1.0,
            last_value=1.0,
            peak_value=1.0,
            last_observed_at=now,
        )
    client.force_login(duty_officer)

    zipped = client.get("/api/v1/warnings/", HTTP_ACCEPT_ENCODING="gzip")

    assert zipped.status_code == 200
    assert len(json.loads(gunzipped(zipped))["results"]) == len(many_sensors)


def test_a_small_api_answer_goes_as_it_is(client, duty_officer):
    client.force_login(duty_officer)

    response = client.get("/api/v1/no-such-thing/", HTTP_ACCEPT_ENCODING="gzip")

    assert response.status_code == 404
    assert not response.has_header("Content-Encoding")
    assert set(response.json()) == {"detail"}


def test_a_page_with_its_csrf_token_is_never_gzipped(client):
    # A page's form carries the CSRF token beside text a visitor may choose:
    # compressed, its length would leak the token (BREACH).
    response = client.get("/login/", HTTP_ACCEPT_ENCODING="gzip")

    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content
    assert not response.has_header("Content-Encoding")
