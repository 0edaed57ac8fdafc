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
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from citysafety import after_commit, realtime
from citysafety.errors import NotFoundError
from notifications import outbound, selectors, webhooks
from notifications.messages import notification_subject, notification_text
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
from organisation.roles import is_duty_officer, roles_load

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Telling:
    """One transition to tell some people of (the arguments of ``notify``)."""

    recipients: tuple[AbstractBaseUser, ...]
    kind: str
    level: int
    key: str
    data: dict
    link: str = ""
    department_id: int | None = None


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
    return notify_many([Telling(tuple(recipients), kind, level, key, data, link=link, department_id=department_id)])


# The storm control in one statement: a row per (person, key) not yet told;
# the unique constraint on (recipient, key) drops the rest, a concurrent
# retry's included, and RETURNING names the rows made now.
_INSERT_NOTIFICATIONS = """
    INSERT INTO notifications_notification
        (recipient_id, kind, level, department_id, data, link, key, shown_in_app, created_at,
         email_wanted, sms_wanted)
    SELECT * FROM unnest(%s::integer[], %s::varchar[], %s::smallint[], %s::bigint[], %s::jsonb[], %s::varchar[],
                         %s::varchar[], %s::boolean[], %s::timestamptz[], %s::boolean[], %s::boolean[])
    ON CONFLICT (recipient_id, key) DO NOTHING
    RETURNING id, recipient_id, key
"""


def notify_many(tellings: Iterable[Telling]) -> list[Notification]:
    """``notify`` for many transitions at once: the people's departments,
    roles and preferences read once for all, the notifications written in
    one statement (a handful of queries, however many are told)."""
    wanted: dict[tuple[int, str], tuple[Telling, AbstractBaseUser]] = {}
    for telling in tellings:
        for user in telling.recipients:
            if user is not None and user.is_active:
                wanted.setdefault((user.pk, telling.key), (telling, user))
    if not wanted:
        return []
    people = {user.pk: user for _telling, user in wanted.values()}
    department_of = dict(Membership.objects.filter(user_id__in=people).values_list("user_id", "department_id"))
    roles_load(people.values())
    preferences = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=people)}
    now = timezone.now()
    rows = []
    for (user_id, key), (telling, user) in wanted.items():
        department_id = telling.department_id
        if not (department_id and department_of.get(user_id) == department_id) and not is_duty_officer(user):
            log.warning("Not notifying %s of %s: outside department %s", user, key, department_id)
            continue
        preference = preferences.get(user_id)
        shown = telling.level in _levels(preference, Channel.IN_APP)
        channels = tuple(
            channel
            for channel, reachable in (
                (Channel.EMAIL, bool(user.email)),
                (Channel.SMS, bool(preference and preference.phone)),
            )
            if reachable and telling.level in _levels(preference, channel)
        )
        rows.append((user_id, telling, shown, channels))
    if not rows:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_NOTIFICATIONS,
            [
                [user_id for user_id, _t, _s, _c in rows],
                [t.kind for _u, t, _s, _c in rows],
                [t.level for _u, t, _s, _c in rows],
                [t.department_id for _u, t, _s, _c in rows],
                [json.dumps(t.data, cls=DjangoJSONEncoder) for _u, t, _s, _c in rows],
                [t.link for _u, t, _s, _c in rows],
                [t.key for _u, t, _s, _c in rows],
                [shown for _u, _t, shown, _c in rows],
                [now for _row in rows],
                [Channel.EMAIL in channels for _u, _t, _s, channels in rows],
                [Channel.SMS in channels for _u, _t, _s, channels in rows],
            ],
        )
        made_ids = {(user_id, key): pk for pk, user_id, key in cursor.fetchall()}
    made, deliveries = [], []
    for user_id, telling, shown, channels in rows:
        pk = made_ids.get((user_id, telling.key))
        if pk is None:
            continue  # told before
        made.append(
            Notification(
                pk=pk,
                recipient=people[user_id],
                kind=telling.kind,
                level=telling.level,
                data=telling.data,
                link=telling.link,
                key=telling.key,
                department_id=telling.department_id,
                shown_in_app=shown,
                created_at=now,
                email_wanted=Channel.EMAIL in channels,
                sms_wanted=Channel.SMS in channels,
            )
        )
        deliveries.append((pk, shown, channels))
    after_commit.collect("notifications.deliver", deliveries, _deliver)
    return made


def _levels(preference: NotificationPreference | None, channel: str) -> list[int]:
    return preference.levels(channel) if preference is not None else DEFAULT_LEVELS[channel]


def _deliver(deliveries: list[tuple[int, bool, tuple[str, ...]]]) -> None:
    """After the commit: the in-app pushes (read together), then e-mail and SMS handed to the worker."""
    push_notifications(notification_ids=[pk for pk, shown, _channels in deliveries if shown])
    _hand_over([(pk, channels) for pk, _shown, channels in deliveries if channels])


def _hand_over(sendings: list[tuple[int, Iterable[str]]]) -> int:
    """Queue each notification's e-mail and SMS; mark those handed over (one query).

    One the broker did not take stays unmarked, and ``notifications_send_missed``
    finds it once the broker is back. Handing one over twice sends nothing
    twice: the sending locks the row and checks it was not sent yet.
    """
    from notifications import tasks  # tasks import this module (the tasks ↔ services cycle, in pyproject.toml)

    queued = []
    for pk, channels in sendings:
        try:
            for channel, task in (
                (Channel.EMAIL, tasks.send_notification_email),
                (Channel.SMS, tasks.send_notification_sms),
            ):
                if channel in channels:
                    task.delay(pk)
        except Exception:  # the broker is down: the row stays for the sweep; the in-app copy is there
            log.warning("Could not queue the sending of notification %s; the sweep will", pk, exc_info=True)
            continue
        queued.append(pk)
    if queued:
        Notification.objects.filter(pk__in=queued, queued_at__isnull=True).update(queued_at=timezone.now())
    return len(queued)


def notifications_send_missed(*, now: datetime | None = None, limit: int = 500) -> int:
    """Hand over the e-mails and SMS that never reached the worker (beat's ``send-missed-notifications``).

    Only those made more than ``NOTIFICATION_HANDOVER_GRACE_SECONDS`` ago (the
    committing process is still handing the newest over) and less than
    ``NOTIFICATION_SEND_MISSED_HOURS`` ago: news of an old transition is no
    longer worth a text message; it stays in the platform.
    """
    now = now or timezone.now()
    missed = list(
        Notification.objects.filter(
            Q(email_wanted=True, emailed_at__isnull=True) | Q(sms_wanted=True, texted_at__isnull=True),
            queued_at__isnull=True,
            created_at__lt=now - timedelta(seconds=settings.NOTIFICATION_HANDOVER_GRACE_SECONDS),
            created_at__gte=now - timedelta(hours=settings.NOTIFICATION_SEND_MISSED_HOURS),
        )
        .order_by("created_at")
        .values_list("pk", "email_wanted", "emailed_at", "sms_wanted", "texted_at")[:limit]
    )
    return _hand_over(
        [
            (
                pk,
                [
                    channel
                    for channel, wanted, sent in ((Channel.EMAIL, email, emailed), (Channel.SMS, sms, texted))
                    if wanted and sent is None
                ],
            )
            for pk, email, emailed, sms, texted in missed
        ]
    )


def _enqueue(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception:  # the broker is down: the row stays, unsent; the in-app copy is there
        log.warning("Could not enqueue %s%s", task.name, args, exc_info=True)


def push_notifications(*, notification_ids: list[int]) -> None:
    """Send each notification, with its recipient's unread count, to the recipient's sockets (two queries for all)."""
    if not notification_ids:
        return
    notifications = list(Notification.objects.filter(pk__in=notification_ids).order_by("pk"))
    unread = selectors.unread_counts({n.recipient_id for n in notifications})
    realtime.send_many(
        (
            [realtime.user_group(notification.recipient_id)],
            "notification.created",
            {**selectors.notification_payload(notification), "unread": unread.get(notification.recipient_id, 0)},
        )
        for notification in notifications
    )


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
    """Subject in the reader's language; the body in it first, then in every other language the platform speaks
    (a forwarded copy may reach a reader of another)."""
    language = _language_of(notification.recipient_id)
    with translation.override(language):
        subject = notification_subject(notification.kind, notification.data)
    parts = []
    codes = [code for code, _name in settings.LANGUAGES]
    for code in sorted(codes, key=lambda code: code != language):
        with translation.override(code):
            parts.append(notification_text(notification.kind, notification.data))
    if notification.link:
        parts.append(f"{settings.SITE_URL.rstrip('/')}{notification.link}")
    return subject, "\n\n".join(parts) + "\n"


def _language_of(user_id: int) -> str:
    """The language a person reads e-mail and SMS in: the one they chose, else the platform's."""
    chosen = NotificationPreference.objects.filter(user_id=user_id).values_list("language", flat=True).first()
    return chosen or settings.LANGUAGE_CODE


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
        with translation.override(preference.language or settings.LANGUAGE_CODE):
            text = notification_text(notification.kind, notification.data)
        get_backend().send(phone=preference.phone, text=text)
        notification.texted_at = timezone.now()
        notification.save(update_fields=["texted_at"])
    return True


@dataclass(frozen=True)
class WebhookEvent:
    """One event for a department's own systems (the arguments of ``webhooks_announce``)."""

    department_id: int
    level: int
    event: str
    key: str
    payload: dict


def webhooks_announce(*, department_id: int, level: int, event: str, key: str, payload: dict) -> list[WebhookDelivery]:
    """Queue one signed POST of ``payload`` to each active endpoint of the department that takes the level."""
    return webhooks_announce_many([WebhookEvent(department_id, level, event, key, payload)])


# As for notifications: one row per (endpoint, key), made once.
_INSERT_DELIVERIES = """
    INSERT INTO notifications_webhookdelivery (endpoint_id, key, event, payload, status, attempts, error, created_at)
    SELECT v.endpoint_id, v.key, v.event, v.payload, %s, 0, '', %s
    FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::jsonb[]) AS v (endpoint_id, key, event, payload)
    ON CONFLICT (endpoint_id, key) DO NOTHING
    RETURNING id, endpoint_id, key
"""


def webhooks_announce_many(events: Iterable[WebhookEvent]) -> list[WebhookDelivery]:
    """``webhooks_announce`` for many events: the endpoints read once, the deliveries written in one statement."""
    events = list(events)
    if not events:
        return []
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        department_id__in={e.department_id for e in events}, is_active=True
    ).order_by("pk"):
        endpoints.setdefault(endpoint.department_id, []).append(endpoint)
    wanted = {
        (endpoint.pk, e.key): (endpoint, e)
        for e in events
        for endpoint in endpoints.get(e.department_id, ())
        if endpoint.takes(e.level)
    }
    if not wanted:
        return []
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_DELIVERIES,
            [
                DeliveryStatus.PENDING,
                now,
                [endpoint_id for endpoint_id, _key in wanted],
                [key for _endpoint_id, key in wanted],
                [e.event for _endpoint, e in wanted.values()],
                [json.dumps(e.payload, cls=DjangoJSONEncoder) for _endpoint, e in wanted.values()],
            ],
        )
        made_ids = {(endpoint_id, key): pk for pk, endpoint_id, key in cursor.fetchall()}
    made = [
        WebhookDelivery(pk=pk, endpoint=endpoint, key=e.key, event=e.event, payload=e.payload, created_at=now)
        for (endpoint_id, _key), (endpoint, e) in wanted.items()
        if (pk := made_ids.get((endpoint_id, e.key))) is not None
    ]
    after_commit.collect("notifications.webhooks", [d.pk for d in made], _enqueue_webhooks)
    return made


def _enqueue_webhooks(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        _enqueue_webhook(delivery_id)


def _enqueue_webhook(delivery_id: int) -> None:
    from notifications import tasks  # tasks import this module (the tasks ↔ services cycle, in pyproject.toml)

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
        refused = False
        try:
            with outbound.session() as http:
                response = http.post(
                    delivery.endpoint.url,
                    data=body,
                    headers=headers,
                    timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                    allow_redirects=False,
                )
            delivery.response_code = response.status_code
            # A redirect is not followed: it could lead anywhere, the inside included,
            # and a POST turned into a GET would not deliver anyway.
            ok = 200 <= response.status_code < 300
            if response.is_redirect:
                delivery.error = _("Redirect to %(location)s not followed: a webhook URL must answer itself.") % {
                    "location": response.headers.get("Location", "")
                }
            else:
                delivery.error = "" if ok else response.text[:500]
        except (outbound.AddressRefused, outbound.HostUnresolved) as exc:
            delivery.response_code = None
            delivery.error = f"{type(exc).__name__}: {exc}"[:500]
            ok = False
            # Trying again sends to the same place: the URL or the allow-list must change first.
            refused = isinstance(exc, outbound.AddressRefused)
        except requests.RequestException as exc:
            delivery.response_code = None
            delivery.error = f"{type(exc).__name__}: {exc}"[:500]
            ok = False
        if ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
            countdown = None
        elif refused or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            countdown = None
        else:
            delivery.status = DeliveryStatus.RETRYING
            countdown = webhook_backoff_seconds(delivery.attempts)
        delivery.save()
    return countdown
