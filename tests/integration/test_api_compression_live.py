"""The API's large answers come gzipped from the real servers (daphne and
gunicorn) to a client that says it accepts gzip."""

import gzip
import json
import urllib.request

import pytest
from django.test import Client

from tests.factories import SensorFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["daphne", "gunicorn"])
def server(request):
    return request.getfixturevalue(f"{request.param}_server")


def test_the_sensor_geojson_comes_gzipped_from_the_real_server(server, duty_officer):
    for number in range(20):
        SensorFactory(code=f"GAS-{number:04d}")
    client = Client()
    client.force_login(duty_officer)
    request = urllib.request.Request(
        f"{server.url}/api/v1/sensors/geojson/",
        headers={"Cookie": f"sessionid={client.cookies['sessionid'].value}", "Accept-Encoding": "gzip"},
    )

    with urllib.request.urlopen(request, timeout=30) as answer:
        encoding, raw = answer.headers.get("Content-Encoding"), answer.read()

    assert encoding == "gzip"
    features = json.loads(gzip.decompress(raw))["features"]
    assert sorted(feature["properties"]["code"] for feature in features) == [f"GAS-{n:04d}" for n in range(20)]
