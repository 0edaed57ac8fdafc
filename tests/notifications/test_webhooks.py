"""Webhooks to a department's own system: signed, retried with a growing wait, logged."""

import json
import time

import pytest

from notifications import services, webhooks
from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.live import wait_for


@pytest.fixture(autouse=True)
def receivers_on_loopback_are_allowed(settings):
    """The receivers here listen on loopback, which webhooks are refused unless the setting allows it."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def announce(department, *, key="wo:1:dispatched", level=2):
    return services.webhooks_announce(
        department_id=department.pk,
        level=level,
        event="work_order.dispatched",
        key=key,
        payload={"work_order": {"id": 1, "level": level}},
    )


def test_a_signature_over_timestamp_and_body_is_checked_as_a_receiver_should():
    body = b'{"id":1}'
    now = time.time()
    signature = webhooks.sign("s3cret", int(now), body)

    assert webhooks.signature_is_valid(
        secret="s3cret", timestamp=str(int(now)), body=body, signature=signature, now=now
    )
    # Another body, another secret, a replay ten minutes later, a forged timestamp: all refused.
    assert not webhooks.signature_is_valid(
        secret="s3cret", timestamp=str(int(now)), body=b'{"id":2}', signature=signature, now=now
    )
    assert not webhooks.signature_is_valid(
        secret="other", timestamp=str(int(now)), body=body, signature=signature, now=now
    )
    assert not webhooks.signature_is_valid(
        secret="s3cret", timestamp=str(int(now)), body=body, signature=signature, now=now + 600
    )
    assert not webhooks.signature_is_valid(
        secret="s3cret", timestamp=str(int(now) + 1), body=body, signature=signature, now=now
    )
    assert not webhooks.signature_is_valid(secret="s3cret", timestamp="soon", body=body, signature=signature, now=now)


@pytest.mark.django_db
def test_an_endpoint_gets_a_secret_of_its_own_and_takes_only_its_levels(department_a):
    first = WebhookEndpoint.objects.create(department=department_a, url="http://127.0.0.1:1/a", levels=[1])
    second = WebhookEndpoint.objects.create(department=department_a, url="http://127.0.0.1:1/b")

    assert len(first.secret) >= 40
    assert first.secret != second.secret
    assert [d.endpoint for d in announce(department_a, level=2)] == [second]
    assert len(announce(department_a, level=1, key="other")) == 2
    # The same event again queues nothing new.
    assert announce(department_a, level=1, key="other") == []


@pytest.mark.django_db
def test_another_departments_endpoint_never_hears_of_the_order(department_a, department_b):
    WebhookEndpoint.objects.create(department=department_b, url="http://127.0.0.1:1/b")
    assert announce(department_a) == []


@pytest.mark.django_db
def test_a_receiver_that_fails_twice_gets_the_delivery_on_the_third_attempt_with_growing_waits(
    department_a, webhook_receiver, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    endpoint = WebhookEndpoint.objects.create(department=department_a, url=webhook_receiver.url)
    (delivery,) = announce(department_a)

    waits = [services.webhook_delivery_attempt(delivery_id=delivery.pk) for _ in range(3)]

    assert 8 <= waits[0] <= 12
    assert 16 <= waits[1] <= 24
    assert waits[2] is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.DELIVERED, 3, 204)
    assert delivery.delivered_at is not None
    # Settled: a late retry sends nothing.
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert len(webhook_receiver.requests) == 3
    for request in webhook_receiver.requests:
        headers = request["headers"]
        assert webhooks.signature_is_valid(
            secret=endpoint.secret,
            timestamp=headers[webhooks.TIMESTAMP_HEADER],
            body=request["body"],
            signature=headers[webhooks.SIGNATURE_HEADER],
            now=time.time(),
        )
        assert headers[webhooks.DELIVERY_HEADER] == str(delivery.pk)
        assert request["json"] == {
            "id": delivery.pk,
            "event": "work_order.dispatched",
            "key": "wo:1:dispatched",
            "data": {"work_order": {"id": 1, "level": 2}},
        }


@pytest.mark.django_db
def test_a_delivery_gives_up_after_the_configured_attempts_and_says_why(department_a, webhook_receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    webhook_receiver.fail_first = 99
    WebhookEndpoint.objects.create(department=department_a, url=webhook_receiver.url)
    (delivery,) = announce(department_a)

    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is not None
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.error) == (
        DeliveryStatus.FAILED,
        2,
        503,
        "busy",
    )


@pytest.mark.django_db
def test_an_unreachable_receiver_is_logged_as_a_connection_error(department_a):
    from tests.live import free_port

    WebhookEndpoint.objects.create(department=department_a, url=f"http://127.0.0.1:{free_port()}/")
    (delivery,) = announce(department_a)

    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is not None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.response_code is None
    assert "ConnectionError" in delivery.error


@pytest.mark.django_db
def test_the_delivery_log_is_in_the_admin_and_read_only(admin_client, department_a):
    WebhookEndpoint.objects.create(department=department_a, url="http://127.0.0.1:1/hook")
    (delivery,) = announce(department_a)

    listing = admin_client.get("/admin/notifications/webhookdelivery/")
    assert listing.status_code == 200
    assert "wo:1:dispatched" in listing.content.decode()
    assert admin_client.get("/admin/notifications/webhookdelivery/add/").status_code == 403
    page = admin_client.get(f"/admin/notifications/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_worker_retries_a_failing_receiver_until_it_accepts(celery_worker_process, department_a, webhook_receiver):
    WebhookEndpoint.objects.create(department=department_a, url=webhook_receiver.url)
    from django.db import transaction

    with transaction.atomic():
        (delivery,) = announce(department_a)

    # The worker waits 0.3 s, then 0.6 s (tests.live sets the base), with jitter.
    wait_for(
        lambda: WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.DELIVERED).exists(),
        timeout=30,
        what="the webhook to be delivered by the worker",
    )
    delivery.refresh_from_db()
    assert delivery.attempts == 3
    assert [json.loads(r["body"])["id"] for r in webhook_receiver.requests] == [delivery.pk] * 3
