"""Who is named in the trail on the real stack: the person through daphne (ASGI), the task in the real worker."""

from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.utils import timezone

from audit.models import TRACKED
from tests.factories import SensorFactory
from tests.live import wait_for
from warning import tasks as warning_tasks
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


def test_a_change_by_the_real_worker_names_the_system_and_its_task(celery_worker_process, duty_officer):
    sensor = SensorFactory(code="GAS-B")
    silence = Silence.objects.create(
        sensor=sensor,
        reason="Valve work",
        created_by=duty_officer,
        starts_at=timezone.now() - timedelta(hours=2),
        ends_at=timezone.now() - timedelta(minutes=1),
    )

    warning_tasks.lift_silences.delay()

    lifted = wait_for(
        lambda: TRACKED[Silence].objects.filter(pgh_obj_id=silence.pk, pgh_label="update").first(),
        timeout=30,
        what="the worker to lift the silence",
    )
    assert lifted.lifted_at is not None
    assert lifted.pgh_context == {
        "system": True,
        "user": None,
        "username": None,
        "task": "warning.tasks.lift_silences",
    }
