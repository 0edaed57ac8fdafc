"""Incidents: warnings that are one event, grouped as they open.

A new warning joins an open incident, or makes one with an open warning it
belongs with: one on a sensor of the same asset (a pipe segment, a bridge, a
tunnel section), or one opened within WARNING_INCIDENT_WINDOW_SECONDS and
WARNING_INCIDENT_DISTANCE_METRES of it (0 metres: grouping by place is off).

The earliest warning is the incident's primary. It was routed when it
opened; the later members are not routed on their own (dispatch.receivers):
their work is the primary's work orders, raised to the worst level of the
incident's active members. When the primary closes or is ruled a false
alarm while other members are open, the incident passes to the next open
member (``incident_member_left``), which dispatch routes. Grouping runs
inside the transaction that opens the warning, before the warning's change
is announced, so the receiver sees the membership.

Lock order: a warning's row, then its incident's primary's, then the
incident's row (``incident_lock``). Evaluation holds the rows of its
chunk's open warnings when a member changes; taking the primary's row
before the incident's means two workers changing members of one incident
queue behind one another instead of deadlocking on the primary's row,
which the work orders they write refer to.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.gis.measure import D
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from monitoring.models import Sensor
from warning import pushes
from warning.models import Incident, TransitionKind, Warning, WarningStatus


def warning_group(warning: Warning) -> Incident | None:
    """Put a just-opened warning into its incident, if it has one (a query or two; opens are rare)."""
    # Evaluation loads the sensor without its place or asset: read them.
    row = Sensor.objects.filter(pk=warning.sensor_id).values("asset_id", "location").first()
    if row is None:
        return None
    asset_id, location = row["asset_id"], row["location"]
    near = Q(pk__in=[])
    if asset_id is not None:
        near |= Q(sensor__asset_id=asset_id)
    metres, seconds = settings.WARNING_INCIDENT_DISTANCE_METRES, settings.WARNING_INCIDENT_WINDOW_SECONDS
    if metres > 0 and seconds > 0 and location is not None:
        window = timedelta(seconds=seconds)
        near |= Q(
            opened_at__gte=warning.opened_at - window,
            opened_at__lte=warning.opened_at + window,
            sensor__location__distance_lte=(location, D(m=metres)),
        )
    if asset_id is None and not (metres > 0 and seconds > 0):
        return None
    mates = list(
        Warning.objects.filter(near)
        .exclude(pk=warning.pk)
        .exclude(status=WarningStatus.CLOSED)
        .select_related("incident")
        .order_by("opened_at", "id")[:50]
    )
    if not mates:
        return None
    open_ids = {m.pk for m in mates}
    incident = next((m.incident for m in mates if m.incident and m.incident.is_open), None)
    if incident is not None and incident.primary_id not in open_ids:
        # Its first warning is closed, and with it the work it was routed:
        # this one stands on its own and is routed.
        return None
    if incident is None:
        # The first open warning on its own: it was routed when it opened.
        first = next((m for m in mates if m.incident_id is None), None)
        if first is None:
            return None
        incident = Incident.objects.create(
            primary=first, asset_id=asset_id, opened_at=min(first.opened_at, warning.opened_at)
        )
        Warning.objects.filter(pk=first.pk).update(incident=incident)
    elif incident.asset_id is None and asset_id is not None:
        incident.asset_id = asset_id
        incident.save(update_fields=["asset"])
    warning.incident = incident
    return incident


def incident_member_closed(warning: Warning) -> None:
    """A member closed: the incident passes on if it was the primary, or closes with its last open member."""
    incident_member_left(warning, reason=TransitionKind.CLOSED)


def incident_member_left(warning: Warning, *, reason: str) -> Warning | None:
    """A member closed or was ruled a false alarm (``reason``: that transition's kind).

    If it was the incident's primary and other members are open, the
    incident passes to the earliest of them, recorded on the incident, and
    that warning is returned, locked: the caller routes it. With no open
    member left, the incident closes. Called inside the transaction that
    closed the warning, with its row locked; a second call changes nothing.
    """
    if warning.incident_id is None:
        return None
    incident = Incident.objects.select_for_update().filter(pk=warning.incident_id).first()
    if incident is None or not incident.is_open:
        return None
    successor = (
        Warning.objects.select_for_update(of=("self",))
        .select_related("sensor__sensor_type")
        .filter(incident_id=incident.pk)
        .exclude(status=WarningStatus.CLOSED)
        .order_by("opened_at", "id")
        .first()
    )
    now = timezone.now()
    if successor is None:
        incident.closed_at = now
        incident.save(update_fields=["closed_at"])
        return None
    if incident.primary_id != warning.pk:
        return None
    incident.primary = successor
    incident.handed_over_from = warning
    incident.handed_over_reason = reason
    incident.handed_over_at = now
    incident.save(update_fields=["primary", "handed_over_from", "handed_over_reason", "handed_over_at"])
    _push_members_after_commit(incident.pk)
    return successor


def incident_lock(warning: Warning) -> tuple[Incident, Warning] | None:
    """The warning's open incident and its primary, both locked (see the lock order above).

    ``warning`` is locked by the caller; it is returned as the primary when
    it is one, so the caller's copy stays the one that is written. An
    incident whose primary is closed (its members left before hand-overs
    were kept) passes to its earliest open member here. None when the
    warning belongs to no open incident.
    """
    if warning.incident_id is None:
        return None
    for _attempt in range(5):
        primary_id = Incident.objects.filter(pk=warning.incident_id).values_list("primary_id", flat=True).first()
        if primary_id is None:
            return None
        if primary_id == warning.pk:
            primary = warning
        else:
            primary = (
                Warning.objects.select_for_update(of=("self",)).select_related("sensor__sensor_type").get(pk=primary_id)
            )
        incident = Incident.objects.select_for_update().get(pk=warning.incident_id)
        if not incident.is_open:
            return None
        if incident.primary_id != primary.pk:
            # Handed over while this transaction waited for the old primary's row.
            continue
        if primary.status == WarningStatus.CLOSED:
            primary = incident_member_left(primary, reason=TransitionKind.CLOSED)
            if primary is None:
                return None
        return incident, primary
    raise RuntimeError(f"Incident {warning.incident_id} kept changing its primary")


def incident_members_active_level(*, incident_id: int) -> int | None:
    """The worst level (1 = most severe) of the incident's active members; None if none is active."""
    return (
        Warning.objects.filter(incident_id=incident_id, status=WarningStatus.ACTIVE)
        .aggregate(level=Min("level"))
        .get("level")
    )


def _push_members_after_commit(incident_id: int) -> None:
    """The open members' rows name the primary: the screens get them again once the hand-over commits."""
    ids = list(
        Warning.objects.filter(incident_id=incident_id)
        .exclude(status=WarningStatus.CLOSED)
        .values_list("pk", flat=True)
    )

    def push() -> None:
        for warning_id in ids:
            pushes.push_warning(warning_id=warning_id)

    transaction.on_commit(push)
