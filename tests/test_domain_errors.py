"""The domain's errors as each edge answers them: the REST API, the pages, the MQTT bridge."""

import json
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.http import HttpRequest
from django.test import override_settings
from django.urls import path
from django.utils import timezone

from citysafety import api, errors
from citysafety.urls import urlpatterns as site_urlpatterns
from dispatch.models import WorkOrder
from monitoring import mqtt
from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import RoutingPolicyFactory, SensorFactory, ThresholdRuleFactory
from warning import services as warning_services

pytestmark = pytest.mark.django_db

# Every kind of domain error and the status the API and the MQTT bridge give it.
STATUSES = [
    (errors.NotFoundError, 404),
    (errors.NotAllowedError, 403),
    (errors.ConflictError, 409),
    (errors.InvalidInputError, 400),
    (errors.TooLargeError, 413),
    (errors.OverloadedError, 429),
    (errors.DomainError, 400),
]


def make(error_class: type[errors.DomainError]) -> errors.DomainError:
    if error_class is errors.OverloadedError:
        return error_class("Said for a person.", retry_after=30)
    return error_class("Said for a person.")


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_every_domain_error_has_a_status_here():
    declared = {value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, Exception)}
    assert declared == {cls for cls, _ in STATUSES}


# --- The REST API ------------------------------------------------------------


@pytest.fixture
def order(department_a):
    """A pending work order of department A, routed by the real pipeline."""
    sensor = SensorFactory(owner_department=department_a)
    ThresholdRuleFactory(sensor_type=sensor.sensor_type)
    RoutingPolicyFactory(domain=sensor.sensor_type.domain, level=3, include_sensor_owner=True)
    readings_record_stored(
        readings=[Reading.objects.create(sensor=sensor, observed_at=timezone.now() - timedelta(minutes=1), value=12.0)]
    )
    warning_services.sensor_evaluate(sensor_id=sensor.pk)
    return WorkOrder.objects.get(warning__sensor=sensor)


def post_json(client, url: str, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.mark.parametrize(("error_class", "status"), STATUSES)
def test_the_api_answers_each_domain_error_with_its_status_and_message(error_class, status):
    response = api.exception_handler(make(error_class), {})
    assert response.status_code == status
    assert response.data == {"detail": "Said for a person."}
    assert response.get("Retry-After") == ("30" if error_class is errors.OverloadedError else None)


def test_the_api_names_the_field_of_an_invalid_input_as_a_serializer_does():
    response = api.exception_handler(errors.InvalidInputError("Write a note.", field="note"), {})
    assert response.status_code == 400
    assert response.data == {"note": ["Write a note."]}


def test_another_departments_order_is_not_found_through_the_api(client, order, staff_b):
    client.force_login(staff_b)
    response = post_json(client, f"/api/v1/work-orders/{order.pk}/acknowledge/", {})
    assert response.status_code == 404
    assert response.json() == {"detail": "No such work order for your department."}


def test_an_illegal_transition_is_a_conflict_through_the_api(client, order, staff_a):
    client.force_login(staff_a)
    response = post_json(client, f"/api/v1/work-orders/{order.pk}/report/", {"report": "Done."})
    assert response.status_code == 409
    assert response.json() == {"detail": "Acknowledge the work order before reporting on it."}


def test_an_empty_batch_is_invalid_input_through_the_api(client, gateway):
    response = post_json(client, "/api/v1/readings/", [], HTTP_AUTHORIZATION=f"Bearer {gateway.token}")
    assert response.status_code == 400
    assert response.json() == {"detail": "The batch is empty: send at least one reading."}


@override_settings(INGEST_MAX_BATCH=1)
def test_an_oversized_batch_is_too_large_through_the_api(client, gateway):
    response = post_json(client, "/api/v1/readings/", [{}, {}], HTTP_AUTHORIZATION=f"Bearer {gateway.token}")
    assert response.status_code == 413
    assert response.json() == {"detail": "The batch holds 2 readings; at most 1 are accepted at once."}


# --- The MQTT bridge ---------------------------------------------------------


def readings_topic(gateway) -> str:
    return mqtt.subscription().replace("+", gateway.code)


def publish(gateway, readings) -> dict:
    payload = json.dumps({"token": gateway.token, "readings": readings}).encode()
    reply = mqtt.handle_message(readings_topic(gateway), payload)
    assert reply.topic == mqtt.result_topic(gateway.code)
    return reply.body


@pytest.mark.parametrize(("error_class", "status"), STATUSES)
def test_the_mqtt_bridge_answers_each_domain_error_with_its_own_status(gateway, monkeypatch, error_class, status):
    def refuse(**kwargs):
        raise make(error_class)

    monkeypatch.setattr(mqtt.services, "readings_ingest", refuse)
    expected = {"status": status, "detail": "Said for a person."}
    if error_class is errors.OverloadedError:
        expected["retry_after"] = 30
    assert publish(gateway, [{}]) == expected


def test_the_mqtt_bridge_answers_an_empty_batch_as_invalid_input(gateway):
    assert publish(gateway, []) == {"status": 400, "detail": "The batch is empty: send at least one reading."}


@override_settings(INGEST_MAX_BATCH=1)
def test_the_mqtt_bridge_answers_an_oversized_batch_as_too_large(gateway):
    assert publish(gateway, [{}, {}]) == {
        "status": 413,
        "detail": "The batch holds 2 readings; at most 1 are accepted at once.",
    }


# --- The pages ---------------------------------------------------------------


def refuse(request: HttpRequest, kind: str):
    error_class = {
        "not-found": errors.NotFoundError,
        "not-allowed": errors.NotAllowedError,
        "conflict": errors.ConflictError,
        "invalid": errors.InvalidInputError,
    }[kind]
    raise error_class("This order is already acknowledged.")


# The site's own pages, and one that refuses: the 404 and 403 pages and the
# page the person came from render as they do in production.
urlpatterns = [path("refuse/<str:kind>/", refuse), *site_urlpatterns]


@pytest.fixture
def page_client(client, staff_a):
    client.force_login(staff_a)
    client.raise_request_exception = False
    return client


@pytest.mark.urls(__name__)
def test_a_page_answers_not_found_with_the_404_page(page_client):
    response = page_client.post("/refuse/not-found/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


@pytest.mark.urls(__name__)
def test_a_page_answers_not_allowed_with_the_403_page(page_client):
    response = page_client.post("/refuse/not-allowed/")
    assert response.status_code == 403
    assert "You cannot open this page" in response.content.decode()


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("kind", ["conflict", "invalid"])
def test_a_page_shows_a_refusal_as_a_message_on_the_page_the_person_came_from(page_client, kind):
    response = page_client.post(f"/refuse/{kind}/", HTTP_REFERER="http://testserver/work-orders/", follow=True)

    assert response.redirect_chain == [("http://testserver/work-orders/", 302)]
    assert response.status_code == 200
    assert '<p class="alert alert-error" role="alert">This order is already acknowledged.</p>' in (
        response.content.decode()
    )


@pytest.mark.urls(__name__)
def test_a_refusal_never_sends_the_person_to_another_site(page_client):
    response = page_client.post("/refuse/conflict/", HTTP_REFERER="https://elsewhere.example/")
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.urls(__name__)
def test_a_form_that_posts_to_its_own_page_comes_back_to_it_with_the_message(page_client):
    response = page_client.post("/refuse/invalid/", HTTP_REFERER="http://testserver/refuse/invalid/")
    assert response.status_code == 302
    assert response["Location"] == "http://testserver/refuse/invalid/"
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["This order is already acknowledged."]


@pytest.mark.urls(__name__)
def test_a_page_that_refuses_to_show_itself_sends_the_person_home_not_round_in_circles(page_client):
    response = page_client.get("/refuse/conflict/", HTTP_REFERER="http://testserver/refuse/conflict/")
    assert response.status_code == 302
    assert response["Location"] == "/"
