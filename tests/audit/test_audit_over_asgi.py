"""The person is named in the trail when the change comes through daphne (ASGI), as in production."""

from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.utils import timezone

from audit.models import TRACKED
from tests.factories import SensorFactory
from warning.models import Silence

pytestmark = pytest.mark.django_db(transaction=True)


def session_for(server, user) -> tuple[requests.Session, str]:
    client = Client()
    client.force_login(user)
    http = requests.Session()
    http.cookies.set("sessionid", client.cookies["sessionid"].value)
    csrf = http.get(f"{server.url}/login/", timeout=10).cookies.get("csrftoken")
    return http, csrf


def test_a_silence_made_through_daphne_names_the_duty_officer(daphne_server, duty_officer):
    SensorFactory(code="GAS-A")
    http, csrf = session_for(daphne_server, duty_officer)

    response = http.post(
        f"{daphne_server.url}/api/v1/silences/",
        json={"sensor": "GAS-A", "reason": "Valve work", "ends_at": (timezone.now() + timedelta(hours=2)).isoformat()},
        headers={"X-CSRFToken": csrf, "Referer": daphne_server.url},
        timeout=10,
    )

    assert response.status_code == 201, response.text
    (created,) = TRACKED[Silence].objects.filter(pgh_label="insert")
    assert created.pgh_context["username"] == "duty"
    assert created.pgh_context["url"] == "/api/v1/silences/"
