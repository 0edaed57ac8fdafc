"""What dispatch adds to /metrics (see ``citysafety.metrics``)."""

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from dispatch.models import FINISHED_STATUSES, WorkOrder


def collect() -> Iterable[Metric]:
    overdue = WorkOrder.objects.filter(is_overdue=True).exclude(status__in=FINISHED_STATUSES).count()
    yield GaugeMetricFamily(
        "citysafety_work_orders_overdue", "Open work orders past their acknowledgement deadline.", value=overdue
    )
