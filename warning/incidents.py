"""Incidents: warnings that are one event, grouped as they open.

A new warning joins an open incident, or makes one with an open warning it
belongs with: one on a sensor of the same asset (a pipe segment, a bridge, a
tunnel section), or one opened within WARNING_INCIDENT_WINDOW_SECONDS and
WARNING_INCIDENT_DISTANCE_METRES of it (0 metres: grouping by place is off).

The earliest warning is the incident's primary. It was routed when it
opened; the later members are not routed (dispatch.receivers), their work
is the primary's work orders. Grouping runs inside the transaction that
opens the warning, before the warning's change is announced, so the
receiver sees the membership.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.gis.measure import D
from django.db.models import Q
from django.utils import timezone

from monitoring.models import Sensor
from warning.models import Incident, Warning, WarningStatus


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
    """A member closed: the incident closes with its last open member."""
    if warning.incident_id is None:
        return
    if not Warning.objects.filter(incident_id=warning.incident_id).exclude(status=WarningStatus.CLOSED).exists():
        Incident.objects.filter(pk=warning.incident_id, closed_at__isnull=True).update(closed_at=timezone.now())
