"""Reads of the notifications app, shared by its pages, API and pushes."""

from django.db.models import Count, QuerySet

from notifications.messages import notification_text, notification_texts
from notifications.models import Notification


def notifications_of(user_id: int) -> QuerySet[Notification]:
    """A person's own notifications, newest first: nobody reads another's."""
    return Notification.objects.filter(recipient_id=user_id, shown_in_app=True)


def unread_count(user_id: int) -> int:
    return notifications_of(user_id).filter(read_at__isnull=True).count()


def notification_payload(notification: Notification, *, all_languages: bool = True) -> dict:
    """A notification as the pages and the API see it.

    A push carries the text in every language (the reader's is not known to
    the sender); the API and the pages give the request's language.
    """
    return {
        "id": notification.pk,
        "recipient": notification.recipient_id,
        "kind": notification.kind,
        "level": notification.level,
        "department": notification.department_id,
        "link": notification.link,
        # What the transition is about ("wo:12" of "wo:12:dispatched"): a page
        # that shows its own news of the same thing shows one toast, not two.
        "subject": notification.key.rpartition(":")[0],
        "created_at": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
        "text": notification_texts(notification.kind, notification.data)
        if all_languages
        else notification_text(notification.kind, notification.data),
    }


def unread_counts(user_ids: set[int]) -> dict[int, int]:
    """Each person's unread count (``unread_count`` for many, one query); a person with none is left out."""
    rows = (
        Notification.objects.filter(recipient_id__in=user_ids, shown_in_app=True, read_at__isnull=True)
        .order_by()
        .values_list("recipient_id")
        .annotate(unread=Count("id"))
    )
    return dict(rows)
