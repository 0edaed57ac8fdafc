from celery import shared_task

from monitoring import services


@shared_task(ignore_result=True)
def mark_offline_sensors() -> int:
    return services.sensors_mark_offline()
