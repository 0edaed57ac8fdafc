from celery import shared_task

from monitoring import partitions, rollups, services


@shared_task(ignore_result=True)
def mark_offline_sensors() -> int:
    return services.sensors_mark_offline()


@shared_task(ignore_result=True, time_limit=3600, soft_time_limit=3500)
def maintain_partitions() -> dict:
    result = partitions.partitions_maintain(policies=partitions.policies_from_settings())
    return {"moved_from_default": result.moved_from_default, "dropped": result.dropped}


@shared_task(ignore_result=True, time_limit=600, soft_time_limit=540)
def roll_up_readings() -> int:
    return rollups.readings_roll_up().readings_seen
