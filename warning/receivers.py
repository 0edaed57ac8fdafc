"""The warning app listens to monitoring: new readings are evaluated."""

import logging

from django.db import transaction

from warning import evaluation_queue, services
from warning.tasks import drain_evaluation_queue

log = logging.getLogger(__name__)


def enqueue_evaluation(sender, *, sensor_ids: set[int], latest: dict | None = None, **kwargs) -> None:
    """Queue the sensors once the batch commits, ranked by their newest value.

    ``latest`` (sensor id: (sensor type id, newest value)), when the sender
    knows it, saves looking the values up.
    """
    ids = sorted(sensor_ids)
    transaction.on_commit(lambda: _mark(ids, latest))


def _mark(sensor_ids: list[int], latest: dict | None) -> None:
    try:
        if services.sensors_enqueue(sensor_ids=sensor_ids, latest=latest):
            try:
                drain_evaluation_queue.delay()
            except Exception:
                # Let the next batch try to queue a drain again.
                evaluation_queue.drain_started()
                raise
    except Exception:
        # The readings are committed and their sensors marked unevaluated in
        # the database; the periodic sweep evaluates them once Redis or the
        # broker is back. Losing the mark must not fail the gateway.
        log.warning("Could not queue evaluation of %d sensors; the sweep will", len(sensor_ids), exc_info=True)
