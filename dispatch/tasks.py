from celery import shared_task

from dispatch import escalation, services


@shared_task(ignore_result=True)
def mark_overdue_work_orders() -> int:
    return services.work_orders_mark_overdue()


@shared_task(ignore_result=True, time_limit=300, soft_time_limit=270)
def escalate_overdue_work_orders() -> int:
    return escalation.work_orders_escalate()
