from celery import shared_task
from django.db import OperationalError

from warning import selectors, services


@shared_task(
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def evaluate_sensors(sensor_ids: list[int]) -> int:
    """Evaluate new readings of these sensors. Idempotent: the watermark moves."""
    return services.sensors_evaluate(sensor_ids=sensor_ids)


@shared_task(ignore_result=True)
def evaluate_pending_sensors() -> int:
    """The periodic sweep: evaluate what no task evaluated (lost enqueue, outage)."""
    sensor_ids = selectors.sensors_with_unevaluated_readings()
    if sensor_ids:
        services.sensors_evaluate(sensor_ids=sensor_ids)
    return len(sensor_ids)
