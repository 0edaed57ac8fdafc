"""Flapping: a warning that recovers and comes back again and again.

Each recovery and reactivation is a flip. More than WARNING_FLAP_LIMIT flips
within the last hour (by reading time) mark the warning flapping: the page
shows it, and its changes are pushed coalesced with its value updates rather
than one by one. The mark clears once the last hour holds at most half that
many flips (hysteresis, so the mark itself does not flap); the periodic
sweep clears the marks of warnings that went quiet.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from warning.models import TransitionKind, Warning, WarningStatus, WarningTransition

FLIP_KINDS = (TransitionKind.RECOVERED, TransitionKind.REACTIVATED)
FLAP_WINDOW = timedelta(hours=1)


def flips_within_hour(warning_id: int, at: datetime) -> int:
    return WarningTransition.objects.filter(
        warning_id=warning_id, kind__in=FLIP_KINDS, observed_at__gt=at - FLAP_WINDOW, observed_at__lte=at
    ).count()


def flapping_update(warning: Warning, at: datetime) -> bool:
    """After a flip: set or clear the mark on ``warning`` (not saved); True when it changed."""
    limit = settings.WARNING_FLAP_LIMIT
    if limit <= 0:
        return False
    flips = flips_within_hour(warning.pk, at)
    if not warning.is_flapping and flips > limit:
        warning.is_flapping = True
        warning.flapping_since = at
        return True
    if warning.is_flapping and flips <= limit // 2:
        warning.is_flapping = False
        warning.flapping_since = None
        return True
    return False


def flapping_quiet_ids(*, now: datetime | None = None) -> list[int]:
    """Flapping warnings whose last hour (to now) holds at most half the limit of flips: their mark clears."""
    now = now or timezone.now()
    half = settings.WARNING_FLAP_LIMIT // 2
    return list(
        Warning.objects.filter(is_flapping=True)
        .exclude(status=WarningStatus.CLOSED)
        .annotate(
            flips=Count(
                "transitions",
                filter=Q(transitions__kind__in=FLIP_KINDS, transitions__observed_at__gt=now - FLAP_WINDOW),
            )
        )
        .filter(flips__lte=half)
        .values_list("pk", flat=True)
    )
