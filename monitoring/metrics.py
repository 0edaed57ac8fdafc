"""What monitoring adds to /metrics (see ``citysafety.metrics``)."""

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from monitoring.selectors import evaluation_backlog


def collect() -> Iterable[Metric]:
    lag, waiting = evaluation_backlog()
    yield GaugeMetricFamily(
        "citysafety_evaluation_lag_seconds",
        "How long the oldest reading not yet evaluated has waited.",
        value=lag.total_seconds(),
    )
    yield GaugeMetricFamily(
        "citysafety_evaluation_waiting_sensors", "Sensors holding readings not yet evaluated.", value=waiting
    )
