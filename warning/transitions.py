"""The one writer of a warning's status and level.

Evaluation, late readings, the no-data sweep, verification, silences and
the admin change a warning through these functions and no other way
(``tests/warning/test_one_writer.py`` walks the code to hold the line).
Each is called inside the caller's transaction, with the warning's row
locked by it (evaluation's chunk, a verdict, a close), and records the
transition it makes (``record``): the row, the flapping mark, the push after
commit and ``warning.events.warning_changed`` — whose receivers (dispatch's
routing) run in that same transaction, see ``warning.events``.
"""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Min
from django.utils import timezone

from monitoring.models import Sensor
from warning import flapping, history, incidents, pushes
from warning.events import warning_changed
from warning.models import ThresholdRule, TransitionKind, Warning, WarningStatus, WarningTransition


def open(sensor: Sensor, rule: ThresholdRule, level: int, observed_at: datetime, value: float) -> Warning:
    """Open the (sensor, rule) warning at ``level``; it joins its incident before it is announced."""
    warning = Warning.objects.create(
        sensor=sensor,
        rule=rule,
        level=level,
        status=WarningStatus.ACTIVE,
        opened_at=observed_at,
        first_value=value,
        last_value=value,
        peak_value=value,
        last_observed_at=observed_at,
    )
    incidents.warning_group(warning)
    record(warning, TransitionKind.OPENED, None, level, value, observed_at)
    return warning


def escalate(warning: Warning, level: int, observed_at: datetime, value: float) -> int:
    """Raise an open warning to a worse ``level``; returns the transitions written (1)."""
    previous = warning.level
    warning.level = level
    record(warning, TransitionKind.ESCALATED, previous, level, value, observed_at)
    return 1


def reactivate(warning: Warning, level: int, value: float | None, observed_at: datetime) -> None:
    """A recovered warning whose condition came back before anyone closed it:
    active again, at the worse of its level and ``level``."""
    previous = warning.level
    warning.status = WarningStatus.ACTIVE
    warning.recovered_at = None
    warning.level = min(previous, level)
    record(warning, TransitionKind.REACTIVATED, previous, warning.level, value, observed_at)


def recover(warning: Warning, value: float, observed_at: datetime) -> None:
    """An active warning back past its dead band: recovered, open until a person closes it."""
    warning.status = WarningStatus.RECOVERED
    warning.recovered_at = observed_at
    record(warning, TransitionKind.RECOVERED, warning.level, warning.level, value, observed_at)


def close(
    warning: Warning,
    *,
    disposal_note: str,
    kind: str = TransitionKind.CLOSED,
    actor: AbstractBaseUser | None = None,
    note: str | None = None,
    observed_at: datetime | None = None,
    at: datetime | None = None,
) -> None:
    """Close an open warning, whichever way it closes: by a person with a
    disposal report (CLOSED), as a false alarm (FALSE_ALARM), or superseded
    by a new warning (CLOSED, no actor).

    ``note`` is the transition's (the disposal note unless given). The
    incident passes on here if the warning was its primary, or closes with
    it: dispatch's receiver of the transition does that first, routing the
    successor; this call then finds nothing left to do, and does it when no
    receiver did. The sensor's level follows.
    """
    warning.closed_while_active = warning.status == WarningStatus.ACTIVE
    warning.status = WarningStatus.CLOSED
    warning.closed_at = at or timezone.now()
    warning.closed_by = actor
    warning.disposal_note = disposal_note
    record(
        warning,
        kind,
        warning.level,
        warning.level,
        None,
        observed_at,
        actor=actor,
        note=disposal_note if note is None else note,
    )
    incidents.incident_member_left(warning, reason=kind)
    sensor_level_refresh(warning.sensor_id)


def escalate_closed(warning: Warning, level: int, observed_at: datetime, value: float) -> int:
    """A late reading raised a closed warning's level at its own time: recorded
    silently (it is closed: nothing is routed or pushed); the caller saves
    the warning. Returns the transitions written (1)."""
    WarningTransition.objects.create(
        warning=warning,
        kind=TransitionKind.ESCALATED,
        from_level=warning.level,
        to_level=level,
        value=value,
        observed_at=observed_at,
    )
    warning.level = level
    # It recovered from the worst level it reached.
    warning.transitions.filter(kind=TransitionKind.RECOVERED).update(from_level=level, to_level=level)
    return 1


def record_historical(sensor: Sensor, rule: ThresholdRule, episode: history.Episode) -> int:
    """Record an episode of the past as a closed historical warning; returns
    its transitions. No signal and no push: nothing is routed or dispatched
    for an event that is over (``warning.history``)."""
    warning = Warning.objects.create(
        sensor=sensor,
        rule=rule,
        level=episode.level,
        status=WarningStatus.CLOSED,
        is_historical=True,
        opened_at=episode.opened_at,
        first_value=episode.first_value,
        last_value=episode.last_value,
        peak_value=episode.peak_value,
        last_observed_at=episode.last_observed_at,
        recovered_at=episode.ended_at,
        closed_at=timezone.now(),
    )
    WarningTransition.objects.bulk_create(
        WarningTransition(
            warning=warning,
            kind=step.kind,
            from_level=step.from_level,
            to_level=step.to_level,
            value=step.value,
            observed_at=step.observed_at,
        )
        for step in episode.steps
    )
    return len(episode.steps)


def record(
    warning: Warning,
    kind: str,
    from_level: int | None,
    to_level: int,
    value: float | None,
    observed_at: datetime | None,
    *,
    actor: AbstractBaseUser | None = None,
    note: str = "",
) -> WarningTransition:
    """Save the warning and write its transition; the flapping mark, the push
    after commit and ``warning_changed`` follow (a verdict records CONFIRMED
    here too: its status and level stay)."""
    # Persist the warning first: receivers (routing) read its level from the
    # database, and the transition row must describe a state that is stored.
    warning.save()
    transition = WarningTransition.objects.create(
        warning=warning,
        kind=kind,
        from_level=from_level,
        to_level=to_level,
        value=value,
        observed_at=observed_at,
        actor=actor,
        note=note,
    )
    mark_changed = False
    if kind in flapping.FLIP_KINDS and observed_at is not None:
        mark_changed = flapping.flapping_update(warning, observed_at)
        if mark_changed:
            warning.save(update_fields=["is_flapping", "flapping_since"])
    # The push is registered before the receivers run: after the commit the
    # duty officers' screens hear of the warning before anything routing
    # does for it (pushes of work orders, the announcement's task).
    if warning.is_flapping and not mark_changed and kind in flapping.FLIP_KINDS:
        # A flapping warning's flips ride with its coalesced value pushes.
        pushes.warning_value_changed(warning_id=warning.pk)
    else:
        pushes.warnings_push_after_commit(warning_ids=[warning.pk])
    warning_changed.send(sender=Warning, warning=warning, transition=transition)
    return transition


def sensor_level_refresh(sensor_id: int) -> None:
    """The sensor's level on the map: the worst of its active warnings (none: no level)."""
    level = (
        Warning.objects.filter(sensor_id=sensor_id, status=WarningStatus.ACTIVE)
        .aggregate(level=Min("level"))
        .get("level")
    )
    Sensor.objects.filter(pk=sensor_id).exclude(warning_level=level).update(warning_level=level)
