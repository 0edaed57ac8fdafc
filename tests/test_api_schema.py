"""The OpenAPI schema says what the API does: schemathesis sends what the schema
allows (and what it forbids) to every operation, in process against the WSGI
application, and fails on any answer the schema does not describe: a status
code it does not list, another content type, a body or a header not of the
documented shape, or a 5xx.
"""

import json
import re
from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dispatch.models import WorkOrder, WorkOrderStatus
from tests.factories import DepartmentFactory, SensorFactory, ThresholdRuleFactory
from warning.models import Level, Warning, WarningStatus

pytestmark = pytest.mark.django_db

# Enough to meet most operations' documented answers (about 600 requests,
# valid and invalid), few enough to run in seconds on a quiet machine.
MAX_EXAMPLES = 10
# Refusals of requests the schema allows, for a rule it cannot state: between
# two fields (ends_at after starts_at), or about what exists (an unknown
# department id, a cursor this server did not sign). Each is in the
# operation's or the parameter's description, and the refusal is a 400
# naming these fields; any other 400 to a valid request means schema and
# code disagree.
DOCUMENTED_RULES: dict[str, set[str]] = {
    "GET /api/v1/warnings/": {"opened_before", "cursor"},
    "GET /api/v1/warnings/closed/": {"opened_before", "cursor"},
    "GET /api/v1/warnings/counts/": {"opened_before"},
    "GET /api/v1/warnings/unverified/": {"opened_before", "cursor"},
    "GET /api/v1/work-orders/": {"cursor"},
    "GET /api/v1/notifications/": {"cursor"},
    "GET /api/v1/map/sensors/": {"bbox"},
    "GET /api/v1/surroundings/targets/": {"bbox"},
    "GET /api/v1/surroundings/resources/": {"bbox"},
    "GET /api/v1/surroundings/risk-areas/": {"bbox"},
    "GET /api/v1/surroundings/cameras/": {"bbox"},
    "GET /api/v1/sensors/{sensor_id}/series/": {"start", "resolution"},
    "GET /api/v1/reports/response-times/": {"start", "end"},
    "POST /api/v1/silences/": {"non_field_errors", "sensor", "gateway", "district", "sensor_type", "ends_at"},
    "POST /api/v1/work-orders/{id}/transfer/": {"department"},
    "POST /api/v1/work-orders/{id}/assign/": {"assignee"},
    "POST /api/v1/work-orders/{id}/verify/": {"reason"},
    "POST /api/v1/work-orders/{id}/return/": {"reason"},
    "POST /api/v1/work-orders/{id}/report/": {"done_actions"},
    # A part that is not a file: a form written from the schema can send text there.
    "POST /api/v1/work-orders/{id}/photos/": {"photo"},
}


@schemathesis.check
def valid_requests_are_accepted(ctx, response, case):
    """Schemathesis's positive_data_acceptance (ST202), but for the documented rules above."""
    if response.status_code == 400:
        try:
            fields = set(response.json())
        except ValueError:
            fields = set()
        if fields and fields <= DOCUMENTED_RULES.get(case.operation.label, set()):
            return None
    return positive_data_acceptance(ctx, response, case)


# Every answer, to valid and to invalid requests alike, must be one the
# schema describes (a body of its media type, JSON that parses: ST104,
# ST109), a request the schema forbids must be refused (4xx) and one it
# allows accepted (ST202).
CHECKS = [
    not_a_server_error,
    negative_data_rejection,
    valid_requests_are_accepted,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
CSRF_TOKEN = "schemathesis0csrf0token000000000"  # 32 characters: a valid unmasked CSRF secret


def generated_schema() -> dict:
    """The schema as /api/v1/schema/ serves it, as plain JSON."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


@pytest.fixture
def wsgi_app():
    """The WSGI application, sharing this test's database transaction.

    Django's test client does the same: a request's end must not close the
    connection that holds the test's open transaction.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def city(duty_officer, department_a):
    """A warning with a work order, so ids in paths sometimes name something real."""
    sensor = SensorFactory(code="GAS-0001", latest_value=12.0, latest_observed_at=timezone.now())
    rule = ThresholdRuleFactory(sensor_type=sensor.sensor_type)
    warning = Warning.objects.create(
        sensor=sensor,
        rule=rule,
        level=Level.II,
        status=WarningStatus.ACTIVE,
        opened_at=timezone.now() - timedelta(minutes=5),
        first_value=12.0,
        last_value=12.0,
        peak_value=12.0,
        last_observed_at=timezone.now(),
    )
    WorkOrder.objects.create(
        warning=warning, department=department_a, level=Level.II, ack_deadline=timezone.now() + timedelta(hours=1)
    )
    DepartmentFactory(code="water-co")
    return sensor


@pytest.fixture
def api_schema(wsgi_app, city):
    schema = schemathesis.openapi.from_dict(generated_schema())
    schema.app = wsgi_app
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        # The credentials are the test's (below), never generated or left out.
        with_security_parameters=False,
    )
    # A batch past maxItems is refused as too large (413), which is a refusal too.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    # A batch of readings the schema allows may hold readings ingestion
    # refuses (an unknown sensor, a time too old): 422, the others stored.
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "422"]
    return schema


@pytest.fixture
def credentials(duty_officer, gateway, city) -> dict[str, dict[str, str]]:
    """Headers per kind of caller: a duty officer's session (with its CSRF
    token, as the pages send it), and a gateway's token."""
    city.gateway = gateway
    city.save(update_fields=["gateway"])
    client = Client()
    client.force_login(duty_officer)
    session = client.cookies["sessionid"].value
    return {
        "session": {
            "headers": {"X-CSRFToken": CSRF_TOKEN},
            "cookies": {"sessionid": session, "csrftoken": CSRF_TOKEN},
        },
        "gateway": {"headers": {"Authorization": f"Bearer {gateway.token}"}},
    }


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_answer_of_the_api_matches_its_schema(case, credentials):
    caller = "gateway" if case.path == "/api/v1/readings/" else "session"
    headers = {**credentials[caller].get("headers", {}), "Accept-Encoding": "identity"}
    # identity: the WSGI transport asks for gzip but reads the body undecoded
    # (tests/test_api_compression.py covers compression).
    case.call_and_validate(**{**credentials[caller], "headers": headers}, checks=CHECKS)


def test_the_schema_documents_the_error_answers_where_they_happen():
    paths = generated_schema()["paths"]

    readings = paths["/api/v1/readings/"]["post"]
    assert set(readings["requestBody"]["content"]) == {"application/json"}
    assert {"400", "401", "413", "415", "422", "429", "503"} <= set(readings["responses"])
    acknowledge = paths["/api/v1/work-orders/{id}/acknowledge/"]["post"]
    assert {"400", "403", "404", "409", "415"} <= set(acknowledge["responses"])
    close = paths["/api/v1/warnings/{id}/close/"]["post"]
    assert {"400", "403", "404", "409"} <= set(close["responses"])
    assert {"400", "403", "404"} <= set(paths["/api/v1/warnings/"]["get"]["responses"])
    assert {"403", "404"} <= set(paths["/api/v1/warnings/{id}/"]["get"]["responses"])
    for operation in (readings, acknowledge, close):
        error = operation["responses"]["404" if operation is not readings else "401"]["content"]["application/json"]
        assert error["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_schema_describes_the_bodies_as_they_are():
    schema = generated_schema()
    components = schema["components"]["schemas"]
    readings = schema["paths"]["/api/v1/readings/"]["post"]
    body = readings["requestBody"]["content"]["application/json"]

    assert components["ReadingBatchResult"]["properties"]["errors"]["type"] == "array"
    assert components["ReadingBatchResult"]["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/ReadingError"
    }
    # The example is one batch: a list of readings, not a list in a list.
    example = body["examples"]["TwoReadings"]["value"]
    assert [item["sensor"] for item in example] == ["GAS-0001", "GAS-0002"]
    assert (body["schema"]["minItems"], body["schema"]["maxItems"]) == (1, 1000)
    assert components["Report"]["properties"]["report"]["minLength"] == 1
    assert components["Close"]["properties"]["note"]["minLength"] == 1
    assert components["Error"]["required"] == ["detail"]
    assert components["BadRequest"]["oneOf"] == [
        {"$ref": "#/components/schemas/Error"},
        {"$ref": "#/components/schemas/FieldErrors"},
    ]


@pytest.mark.parametrize("path", ["/api/v1/warnings/0.5/", "/api/v1/work-orders/ò\nê/", "/api/v1/no-such-thing/"])
def test_a_path_no_endpoint_takes_is_a_json_404(client, duty_officer, path):
    client.force_login(duty_officer)

    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


def query_parameters(paths: dict, path: str) -> dict[str, dict]:
    return {p["name"]: p for p in paths[path]["get"]["parameters"] if p["in"] == "query"}


def test_the_schema_documents_each_filter_with_the_values_it_takes():
    paths = generated_schema()["paths"]

    warnings = query_parameters(paths, "/api/v1/warnings/")
    assert warnings["level"]["schema"]["type"] == "array"
    assert warnings["level"]["schema"]["items"]["enum"] == [1, 2, 3]
    assert warnings["level"]["explode"] is True
    assert warnings["status"]["schema"]["enum"] == ["active", "closed", "open", "recovered"]
    for name in ("opened_after", "opened_before"):
        assert warnings[name]["schema"] == {"type": "string", "format": "date-time"}
        assert "zone" in warnings[name]["description"]
    # The counts take the list's filters; the closed search, one status.
    counts = query_parameters(paths, "/api/v1/warnings/counts/")
    assert set(counts) == set(warnings) - {"cursor", "page_size"}
    assert query_parameters(paths, "/api/v1/warnings/closed/")["status"]["schema"]["enum"] == ["closed"]

    orders = query_parameters(paths, "/api/v1/work-orders/")
    assert orders["status"]["schema"]["items"]["enum"] == sorted(WorkOrderStatus.values)
    for name in ("open", "is_overdue"):
        assert orders[name]["schema"] == {"type": "boolean"}
        assert orders[name]["description"]
    for name in ("warning", "department"):
        assert orders[name]["schema"] == {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}

    series = query_parameters(paths, "/api/v1/sensors/{sensor_id}/series/")
    assert series["start"]["schema"]["format"] == series["end"]["schema"]["format"] == "date-time"
    assert series["resolution"]["schema"]["enum"] == ["hour", "minute", "raw"]
    sensor_map = query_parameters(paths, "/api/v1/map/sensors/")
    assert sensor_map["bbox"]["required"]
    # Four numbers, no more: "west,south,east,north" as words is refused by the schema too.
    assert re.fullmatch(sensor_map["bbox"]["schema"]["pattern"], "117.1,31.7,117.5,32")
    assert not re.fullmatch(sensor_map["bbox"]["schema"]["pattern"], "w,s,e,n")
    cursor = warnings["cursor"]["schema"]
    assert cursor["maxLength"] == 512
    assert not re.fullmatch(cursor["pattern"], "gateway_code")
    assert sensor_map["zoom"]["required"]
    assert (sensor_map["zoom"]["schema"]["minimum"], sensor_map["zoom"]["schema"]["maximum"]) == (0, 22)
