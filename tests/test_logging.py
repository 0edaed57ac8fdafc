"""Log lines as JSON with the request's id (LOG_FORMAT=json), and the id in the response."""

import io
import json
import logging
import subprocess
import sys

import pytest
import requests

from citysafety.logformat import JsonFormatter
from citysafety.request_id import RequestIdFilter
from tests.live import VENV_BIN, free_port, start, wait_for, wait_listening


@pytest.fixture
def json_lines():
    """What the "django" logger writes during the test, as the JSON handler writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("django")
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)


@pytest.mark.django_db
def test_the_request_id_sent_by_the_proxy_is_in_the_answer_and_in_every_log_line(client, json_lines):
    response = client.get("/api/v1/no-such-thing/", HTTP_X_REQUEST_ID="proxy-4f1c.17")

    assert response["X-Request-ID"] == "proxy-4f1c.17"
    lines = json_lines()
    assert lines, "the 404 was not logged"
    assert {line["request_id"] for line in lines} == {"proxy-4f1c.17"}
    assert {"time", "level", "logger", "message"} <= set(lines[0])


@pytest.mark.django_db
def test_a_request_without_an_id_gets_one_of_its_own(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]

    assert len(first) == 32
    assert first != second


@pytest.mark.django_db
@pytest.mark.parametrize("sent", ["a b", "x" * 200, "line\\nbreak", "<script>"])
def test_an_implausible_request_id_is_replaced_rather_than_written_into_the_logs(client, sent):
    answered = client.get("/healthz", HTTP_X_REQUEST_ID=sent)["X-Request-ID"]

    assert answered != sent
    assert len(answered) == 32


def test_a_line_logged_outside_a_request_has_no_request_id():
    record = logging.LogRecord("citysafety", logging.INFO, __file__, 1, "beat %s", ("ok",), None)
    RequestIdFilter().filter(record)

    line = json.loads(JsonFormatter().format(record))

    assert line["request_id"] is None
    assert line["message"] == "beat ok"


def test_an_unknown_log_format_stops_the_process_with_its_name():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={"DJANGO_SETTINGS_MODULE": "citysafety.settings", "LOG_FORMAT": "xml", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "LOG_FORMAT='xml'" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_daphne_with_log_format_json_writes_json_lines_carrying_the_request_id():
    port = free_port()
    daphne = start(
        "daphne-json-logs",
        [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "citysafety.asgi:application"],
        env={"LOG_FORMAT": "json"},
    )
    try:
        wait_listening(daphne, port, "daphne")
        response = requests.get(
            f"http://127.0.0.1:{port}/api/v1/no-such-thing/", headers={"X-Request-ID": "req-77"}, timeout=30
        )
        assert response.headers["X-Request-ID"] == "req-77"

        line = wait_for(
            lambda: next((line for line in daphne.output().splitlines() if "req-77" in line), None),
            what="the request's log line",
        )
        logged = json.loads(line)
        assert logged["request_id"] == "req-77"
        assert logged["logger"] == "django.request"
        assert logged["level"] == "WARNING"
    finally:
        daphne.stop()
