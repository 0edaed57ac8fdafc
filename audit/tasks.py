from celery import shared_task

from audit import services


@shared_task(time_limit=600)
def prune_audit_trail() -> int:
    return services.audit_trail_prune()
