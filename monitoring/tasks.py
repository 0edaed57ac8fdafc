from celery import shared_task
from django.conf import settings

from monitoring import services


@shared_task(ignore_result=True)
def mark_offline_sensors() -> int:
    return services.sensors_mark_offline()


@shared_task(ignore_result=True, time_limit=3600, soft_time_limit=3500)
def purge_expired_readings() -> int:
    return services.readings_purge_expired(retention_days=settings.READING_RETENTION_DAYS)
