"""What the warning engine adds to /metrics (see ``citysafety.metrics``)."""

from collections.abc import Iterable

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, Metric

from warning.models import Level, TransitionKind, WarningTransition


def collect() -> Iterable[Metric]:
    # The level each warning opened at, from its first transition: the
    # warning's own level is the worst it reached since.
    opened = CounterMetricFamily(
        "citysafety_warnings_opened",
        "Warnings opened, by the level they opened at (1 = most severe).",
        labels=["level"],
    )
    counts = dict(
        WarningTransition.objects.filter(kind=TransitionKind.OPENED)
        .values_list("to_level")
        .annotate(count=Count("id"))
        .values_list("to_level", "count")
    )
    for level in Level.values:
        opened.add_metric([str(level)], counts.get(level, 0))
    yield opened
