"""The warning app listens to monitoring: new readings are evaluated."""

import logging

from django.db import transaction

log = logging.getLogger(__name__)


def enqueue_evaluation(sender, *, sensor_ids: set[int], **kwargs) -> None:
    ids = sorted(sensor_ids)
    transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(sensor_ids: list[int]) -> None:
    from warning.tasks import evaluate_sensors

    try:
        evaluate_sensors.delay(sensor_ids)
    except Exception:
        # The readings are committed; the periodic sweep evaluates them once
        # the broker is back. Losing the enqueue must not fail the gateway.
        log.warning("Could not enqueue evaluation of %d sensors; the sweep will", len(sensor_ids), exc_info=True)
