"""The warning app listens to monitoring: new readings are evaluated."""

import logging

from django.db import transaction

log = logging.getLogger(__name__)


def enqueue_evaluation(sender, *, sensor_ids: set[int], **kwargs) -> None:
    ids = sorted(sensor_ids)
    transaction.on_commit(lambda: _mark(ids))


def _mark(sensor_ids: list[int]) -> None:
    from warning import evaluation_queue
    from warning.tasks import drain_evaluation_queue

    try:
        if evaluation_queue.sensors_mark(sensor_ids):
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
