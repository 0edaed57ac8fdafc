"""Every write of the notifications app: telling people, marking read, sending by e-mail, SMS and webhook.

Callers name the transition a notification reports (``key``); a person is
told of one transition once, however often the caller runs (a retried task,
a beat that sweeps again): that, and notifying on transitions rather than
readings, is the storm control.
"""

import json
import logging
import random
import time
from collections.abc import Iterable

import requests
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from citysafety import realtime
from citysafety.errors import NotFoundError
from notifications import selectors, webhooks
from notifications.messages import notification_text
from notifications.models import (
    DEFAULT_LEVELS,
    Channel,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)
from notifications.sms import get_backend
from organisation.models import Membership
from organisation.roles import is_duty_officer

log = logging.getLogger(__name__)


def notify(
    *,
    recipients: Iterable[AbstractBaseUser],
    kind: str,
    level: int,
    key: str,
    data: dict,
    link: str = "",
    department_id: int | None = None,
) -> list[Notification]:
    """Tell each recipient of one transition, by the channels they chose for its level.

    Returns the notifications made now (none for a person already told of
    ``key``). A recipient who may not see the matter — outside
    ``department_id`` and no duty officer, or no duty officer for a city
    matter — is skipped: a roster error must not leak a department's work.
    Delivery happens after the caller's transaction commits.
    """
    unique = {user.pk: user for user in recipients if user is not None and user.is_active}
    if not unique:
        return []
    members = (
        set(
            Membership.objects.filter(department_id=department_id, user_id__in=unique).values_list("user_id", flat=True)
        )
        if department_id
        else set()
    )
    preferences = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=unique)}
    now = timezone.now()
    made = []
    for user_id, user in unique.items():
        if user_id not in members and not is_duty_officer(user):
            log.warning("Not notifying %s of %s: outside department %s", user, key, department_id)
            continue
        preference = preferences.get(user_id)
        notification, created = Notification.objects.get_or_create(
            recipient_id=user_id,
            key=key,
            defaults={
                "kind": kind,
                "level": level,
                "data": data,
                "link": link,
                "department_id": department_id,
                "shown_in_app": level in _levels(preference, Channel.IN_APP),
                "created_at": now,
            },
        )
        if not created:
            continue
        made.append(notification)
        channels = [
            channel
            for channel, wanted in (
                (Channel.EMAIL, bool(user.email)),
                (Channel.SMS, bool(preference and preference.phone)),
            )
            if wanted and level in _levels(preference, channel)
        ]
        transaction.on_commit(lambda n=notification, c=channels: _deliver(n, c))
    return made


def _levels(preference: NotificationPreference | None, channel: str) -> list[int]:
    return preference.levels(channel) if preference is not None else DEFAULT_LEVELS[channel]


def _deliver(notification: Notification, channels: list[str]) -> None:
    from notifications import tasks  # tasks import this module

    if notification.shown_in_app:
        push_notification(notification_id=notification.pk)
    for channel, task in ((Channel.EMAIL, tasks.send_notification_email), (Channel.SMS, tasks.send_notification_sms)):
        if channel in channels:
            _enqueue(task, notification.pk)


def _enqueue(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception:  # the broker is down: the row stays, unsent; the in-app copy is there
        log.warning("Could not enqueue %s%s", task.name, args, exc_info=True)


def push_notification(*, notification_id: int) -> None:
    """Send the notification, with the recipient's new unread count, to the recipient's sockets."""
    notification = Notification.objects.filter(pk=notification_id).select_related("recipient").first()
    if notification is None:
        return
    payload = selectors.notification_payload(notification)
    payload["unread"] = selectors.unread_count(notification.recipient_id)
    realtime.send([realtime.user_group(notification.recipient_id)], "notification.created", payload)


def notification_mark_read(*, user: AbstractBaseUser, notification_id: int) -> Notification:
    notification = Notification.objects.filter(pk=notification_id, recipient_id=user.pk).first()
    # The same answer for "absent" and "someone else's".
    if notification is None:
        raise NotFoundError(_("No such notification of yours."))
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
        notification.refresh_from_db(fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user: AbstractBaseUser) -> int:
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).update(read_at=timezone.now())


def notification_email_send(*, notification_id: int) -> bool:
    """Send one notification by e-mail, once; True if it was sent now.

    The row stays locked while the mail server takes the message, so a
    retried task cannot send it twice; a failure rolls back and raises for
    the task to retry.
    """
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("recipient")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        if notification is None or not notification.recipient.email:
            return False
        subject, body = _email_text(notification)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [notification.recipient.email], fail_silently=False)
        notification.emailed_at = timezone.now()
        notification.save(update_fields=["emailed_at"])
    return True


def _email_text(notification: Notification) -> tuple[str, str]:
    """Subject in the platform's language; the body in every language it speaks."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = f"[{_('City safety')}] {notification.get_kind_display()}"
    parts = []
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            parts.append(notification_text(notification.kind, notification.data))
    if notification.link:
        parts.append(f"{settings.SITE_URL.rstrip('/')}{notification.link}")
    return subject, "\n\n".join(parts) + "\n"


def notification_sms_send(*, notification_id: int) -> bool:
    """Send one notification by SMS through the configured backend, once."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .filter(pk=notification_id, texted_at__isnull=True)
            .first()
        )
        if notification is None:
            return False
        preference = NotificationPreference.objects.filter(user_id=notification.recipient_id).first()
        if preference is None or not preference.phone:
            return False
        with translation.override(settings.LANGUAGE_CODE):
            text = notification_text(notification.kind, notification.data)
        get_backend().send(phone=preference.phone, text=text)
        notification.texted_at = timezone.now()
        notification.save(update_fields=["texted_at"])
    return True


def webhooks_announce(*, department_id: int, level: int, event: str, key: str, payload: dict) -> list[WebhookDelivery]:
    """Queue one signed POST of ``payload`` to each active endpoint of the department that takes the level."""
    made = []
    for endpoint in WebhookEndpoint.objects.filter(department_id=department_id, is_active=True):
        if not endpoint.takes(level):
            continue
        delivery, created = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint, key=key, defaults={"event": event, "payload": payload}
        )
        if created:
            made.append(delivery)
            transaction.on_commit(lambda pk=delivery.pk: _enqueue_webhook(pk))
    return made


def _enqueue_webhook(delivery_id: int) -> None:
    from notifications import tasks

    _enqueue(tasks.deliver_webhook, delivery_id)


def webhook_backoff_seconds(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling, with jitter."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    return base * (0.8 + 0.4 * random.random())  # noqa: S311 - jitter, not a secret


def webhook_delivery_attempt(*, delivery_id: int) -> float | None:
    """POST one delivery once; the seconds to wait before trying again, or None when it is settled.

    The row is locked during the request so two workers never send the same
    delivery at once; a delivery already delivered or given up is left alone.
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
            .first()
        )
        if delivery is None:
            return None
        body = json.dumps(
            {"id": delivery.pk, "event": delivery.event, "key": delivery.key, "data": delivery.payload},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "CitySafety-Webhook/1",
            webhooks.TIMESTAMP_HEADER: str(timestamp),
            webhooks.SIGNATURE_HEADER: webhooks.sign(delivery.endpoint.secret, timestamp, body),
            webhooks.DELIVERY_HEADER: str(delivery.pk),
            webhooks.EVENT_HEADER: delivery.event,
        }
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        try:
            response = requests.post(
                delivery.endpoint.url,
                data=body,
                headers=headers,
                timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
            delivery.response_code = response.status_code
            delivery.error = "" if response.ok else response.text[:500]
            ok = response.ok
        except requests.RequestException as exc:
            delivery.response_code = None
            delivery.error = f"{type(exc).__name__}: {exc}"[:500]
            ok = False
        if ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
            countdown = None
        elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            countdown = None
        else:
            delivery.status = DeliveryStatus.RETRYING
            countdown = webhook_backoff_seconds(delivery.attempts)
        delivery.save()
    return countdown
