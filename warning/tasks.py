from celery import shared_task

from warning import evaluation_queue, no_data, pushes, selectors, services, silences


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=180)
def drain_evaluation_queue() -> int:
    """Evaluate the sensors waiting in the queue, most severe first, until none waits.

    Idempotent: a sensor is evaluated past its rules' watermarks only, so a
    second drain, a retry or the sweep change nothing twice. A drain that
    stops at its time budget leaves the rest waiting and queues another.
    """
    evaluation_queue.drain_started()
    evaluated = services.sensors_drain()
    if evaluation_queue.waiting_count() and evaluation_queue.drain_needed():
        drain_evaluation_queue.delay()
    return evaluated


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=180)
def evaluate_pending_sensors() -> int:
    """The periodic sweep: evaluate what no drain evaluated (a lost mark, an outage)."""
    sensor_ids = selectors.sensors_with_unevaluated_readings()
    if sensor_ids:
        services.sensors_evaluate(sensor_ids=sensor_ids)
    return len(sensor_ids)


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=60)
def push_warning_value(warning_id: int) -> None:
    """The coalesced push of a warning's new value; a repeat sends the same state again."""
    pushes.warning_value_push(warning_id=warning_id)


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=180)
def warn_silent_sensors() -> int:
    """The no-data sweep: warn of silent sensors, fold a silent gateway's into one outage."""
    return no_data.sensors_warn_silent().opened


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def lift_silences() -> int:
    """Periodic: act on silences that ended (a condition still true opens its
    warning), and clear the flapping marks of warnings that went quiet.
    Idempotent: a silence is lifted once; a re-run finds nothing to do."""
    opened = silences.silences_lift()
    services.warnings_flapping_clear()
    return opened
