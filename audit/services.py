"""The one deletion the audit trail allows: dropping events older than the retention period."""

from datetime import datetime, timedelta

import pgtrigger
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import TRACKED


def audit_trail_prune(*, now: datetime | None = None) -> int:
    """Delete the events older than ``AUDIT_RETENTION_DAYS``; the number deleted.

    Each event table refuses UPDATE and DELETE by a trigger (``append_only``).
    pgtrigger's ``ignore`` lifts that trigger for this transaction's own
    statements only (a ``SET LOCAL`` it makes), never for other sessions, and
    the delete is bounded by the retention cut-off: nothing younger than six
    months can leave by this path.
    """
    cutoff = (now or timezone.now()) - timedelta(days=max(settings.AUDIT_RETENTION_DAYS, 183))
    deleted = 0
    for event_model in TRACKED.values():
        with transaction.atomic(), pgtrigger.ignore(f"audit.{event_model.__name__}:append_only"):
            count, _ = event_model.objects.filter(pgh_created_at__lt=cutoff).delete()
            deleted += count
    return deleted
