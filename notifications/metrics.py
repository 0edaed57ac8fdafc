"""What notifications add to /metrics (see ``citysafety.metrics``)."""

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, Metric

from notifications.models import DeliveryStatus, WebhookDelivery


def collect() -> Iterable[Metric]:
    # Webhooks are the channel whose every attempt is recorded; an e-mail or
    # SMS the provider refused is retried by the sweep and leaves no row.
    failures = CounterMetricFamily(
        "citysafety_notification_failures",
        "Notifications given up after their last attempt, by channel.",
        labels=["channel"],
    )
    failures.add_metric(["webhook"], WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).count())
    yield failures
