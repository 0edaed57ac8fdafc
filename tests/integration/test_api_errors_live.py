"""API errors as the real servers send them: daphne (pages, sockets and the
API) and gunicorn (the gateways' API). Whatever server answers, an API error
is the documented JSON error, and every client can read it, urllib included.
"""

import json
import urllib.error
import urllib.request

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)

CSRF_TOKEN = "live0test0csrf0token000000000000"  # 32 characters: a valid unmasked CSRF secret


@pytest.fixture(params=["daphne", "gunicorn"])
def server(request):
    return request.getfixturevalue(f"{request.param}_server")


def session_headers(user) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    return {
        "Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={CSRF_TOKEN}",
        "X-CSRFToken": CSRF_TOKEN,
    }


def send(url: str, *, body: bytes, headers: dict[str, str], method: str = "POST") -> tuple[int, str, bytes]:
    """Status, media type and body of an answer, through urllib as a plain Python client sends."""
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.headers.get_content_type(), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # What clients send for an empty form: the closing delimiter alone.
        ("multipart/form-data; boundary=empty", b"--empty--\r\n"),
        ("multipart/form-data; boundary=empty", b"not multipart at all"),
        ("multipart/form-data; boundary=empty", b""),
        ("multipart/form-data", b""),
        ("application/x-www-form-urlencoded", b""),
    ],
    ids=["closing delimiter only", "garbage", "no body", "no boundary", "empty urlencoded"],
)
def test_an_empty_or_broken_form_gets_the_documented_json_error(server, duty_officer, content_type, body):
    status, media_type, raw = send(
        f"{server.url}/api/v1/silences/",
        body=body,
        headers={**session_headers(duty_officer), "Content-Type": content_type, "Accept-Language": "en"},
    )

    assert (status, media_type) == (400, "application/json"), raw
    answer = json.loads(raw)
    # A field error per missing field, or one detail for a body that cannot be read.
    assert answer == {"reason": ["This field is required."], "ends_at": ["This field is required."]} or (
        set(answer) == {"detail"} and "parse" in answer["detail"]
    ), answer


def test_a_batch_far_too_large_gets_a_413_that_urllib_reads(server, gateway):
    # 200,000 readings, some 19 MB: the size gateways sent by mistake.
    reading = {"sensor": "GAS-0001", "observed_at": "2026-11-21T08:00:00+08:00", "value": 3.25}
    batch = json.dumps([reading] * 200_000).encode()
    assert len(batch) > 15_000_000

    status, media_type, raw = send(
        f"{server.url}/api/v1/readings/",
        body=batch,
        headers={"Authorization": f"Bearer {gateway.token}", "Content-Type": "application/json"},
    )

    assert (status, media_type) == (413, "application/json"), raw
    body = json.loads(raw)
    assert set(body) == {"detail"}
    assert "too large" in body["detail"]
