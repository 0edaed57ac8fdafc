import smtplib

from celery import shared_task

from notifications import services
from notifications.sms import SmsError


@shared_task(
    ignore_result=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_jitter=True,
    max_retries=5,
    time_limit=60,
    soft_time_limit=45,
)
def send_notification_email(notification_id: int) -> bool:
    return services.notification_email_send(notification_id=notification_id)


@shared_task(
    ignore_result=True,
    autoretry_for=(SmsError, OSError),
    retry_backoff=30,
    retry_jitter=True,
    max_retries=5,
    time_limit=60,
    soft_time_limit=45,
)
def send_notification_sms(notification_id: int) -> bool:
    return services.notification_sms_send(notification_id=notification_id)


@shared_task(bind=True, ignore_result=True, max_retries=None, time_limit=60, soft_time_limit=45)
def deliver_webhook(self, delivery_id: int) -> None:
    """One attempt; the delivery row counts the attempts and decides when to give up."""
    countdown = services.webhook_delivery_attempt(delivery_id=delivery_id)
    if countdown is not None:
        raise self.retry(countdown=countdown)


@shared_task(ignore_result=True, time_limit=120, soft_time_limit=100)
def send_missed_notifications() -> int:
    """Beat: e-mails and SMS of notifications made while the broker was down."""
    return services.notifications_send_missed()
