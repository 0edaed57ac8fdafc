"""Every error under /api/ is the documented JSON error, whichever part of the
stack refuses the request: a view, DRF, Django's request parsing or a
middleware before the view."""

import pytest

pytestmark = pytest.mark.django_db


def assert_json_error(response, status: int) -> str:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response.content[:300]
    body = response.json()
    assert set(body) == {"detail"}, body
    return body["detail"]


def test_a_form_with_too_many_fields_is_a_json_400(client, duty_officer, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client.force_login(duty_officer)

    response = client.post(
        "/api/v1/silences/",
        "&".join(f"f{n}=x" for n in range(20)),
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert "fields" in assert_json_error(response, 400)


def test_an_unknown_host_is_a_json_400_under_the_api(client, duty_officer):
    client.force_login(duty_officer)

    response = client.get("/api/v1/warnings/", HTTP_HOST="not-ours.example", HTTP_ACCEPT_LANGUAGE="en")

    assert assert_json_error(response, 400)


def test_a_page_keeps_its_html_error(client):
    response = client.get("/login/", HTTP_HOST="not-ours.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
