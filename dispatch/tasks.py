from celery import shared_task

from dispatch import services


@shared_task(ignore_result=True)
def mark_overdue_work_orders() -> int:
    return services.work_orders_mark_overdue()
