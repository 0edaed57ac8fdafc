from celery import shared_task
from django.db import InterfaceError, OperationalError

from dispatch import escalation, services


@shared_task(ignore_result=True)
def mark_overdue_work_orders() -> int:
    return services.work_orders_mark_overdue()


@shared_task(ignore_result=True, time_limit=300, soft_time_limit=270)
def escalate_overdue_work_orders() -> int:
    return escalation.work_orders_escalate()


@shared_task(
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_jitter=True,
    max_retries=8,
    time_limit=120,
    soft_time_limit=100,
)
def announce_work_orders(
    work_order_ids: list[int], level_one_warning_ids: list[int], event_ids: list[int] | None = None
) -> int:
    """Tell the departments of the work orders one transaction routed, or brought back to them
    (``event_ids``, optional for tasks queued before it existed); the notification keys make a retry harmless."""
    return escalation.work_orders_announce(
        work_order_ids=work_order_ids, level_one_warning_ids=level_one_warning_ids, event_ids=event_ids or []
    )
