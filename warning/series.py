"""How a (sensor, rule)'s new readings move its warning, reading by reading.

Evaluation (``warning.services``) hands each state's readings here, in
order of observation, inside its chunk's transaction; readings that arrived
late go to ``warning.late_readings``. Every change of status or level is
made by ``warning.transitions``.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from monitoring.models import Sensor
from warning import history, late_readings, rule_kinds, transitions
from warning.evaluation import HOLD, NORMAL, classify, worse
from warning.models import RuleKind, ThresholdRule, Warning, WarningStatus


def apply_reading(
    sensor: Sensor,
    rule: ThresholdRule,
    warning: Warning | None,
    observed_at: datetime,
    value: float,
    *,
    progress: dict | None = None,
    silenced: bool = False,
) -> tuple[Warning | None, int]:
    """Move the (sensor, rule) warning by one reading newer than any
    evaluated; returns it and the transitions written.

    ``progress``: a duration rule's runs (``rule_kinds.hold_advance``).
    ``silenced``: the reading falls in a maintenance window (warning.silences):
    the warning's values follow it and it may recover, but nothing opens,
    escalates or comes back, so nothing is dispatched. A duration rule's
    runs neither go on nor end on it: maintenance says nothing of how long
    a condition held.
    """
    if silenced:
        return _apply_silenced_reading(rule, warning, observed_at, value)
    in_warning = warning is not None and warning.status == WarningStatus.ACTIVE
    level = classify(rule, value, in_warning=in_warning)
    if rule.holds and progress is not None:
        lasted = rule_kinds.hold_advance(rule, progress, level, observed_at)
        if level > 0:
            # Not held long enough at any level: nothing opens or escalates yet.
            level = lasted or HOLD

    if warning is not None:
        if observed_at >= warning.last_observed_at:
            # The warning's last value only moves forward in time.
            warning.last_value = value
            warning.last_observed_at = observed_at
        warning.peak_value = worse(rule, warning.peak_value, value)

    if level == HOLD:
        return warning, 0
    if level == NORMAL:
        if in_warning:
            transitions.recover(warning, value, observed_at)
            return warning, 1
        return warning, 0

    if warning is None:
        return transitions.open(sensor, rule, level, observed_at, value), 1
    if warning.status == WarningStatus.RECOVERED and _beyond_reactivation_window(warning, observed_at):
        _close_superseded(warning, observed_at)
        return transitions.open(sensor, rule, level, observed_at, value), 2
    if warning.status == WarningStatus.RECOVERED:
        # The same incident flaring up again before anyone closed it: the
        # open warning comes back, at the worse of its level and the new one.
        transitions.reactivate(warning, level, value, observed_at)
        return warning, 1
    if level < warning.level:
        return warning, transitions.escalate(warning, level, observed_at, value)
    return warning, 0


def _apply_silenced_reading(
    rule: ThresholdRule,
    warning: Warning | None,
    observed_at: datetime,
    value: float,
) -> tuple[Warning | None, int]:
    """A reading newer than any evaluated, in a maintenance window (see ``apply_reading``)."""
    if warning is None:
        return None, 0
    warning.peak_value = worse(rule, warning.peak_value, value)
    warning.last_value = value
    warning.last_observed_at = observed_at
    if warning.status == WarningStatus.ACTIVE and classify(rule, value, in_warning=True) == NORMAL:
        transitions.recover(warning, value, observed_at)
        return warning, 1
    return warning, 0


def _beyond_reactivation_window(warning: Warning, observed_at: datetime) -> bool:
    """A recovered warning firing again later than WARNING_REACTIVATION_WINDOW_SECONDS
    after its recovery is a new event, not the same one flaring up (0: no limit)."""
    seconds = settings.WARNING_REACTIVATION_WINDOW_SECONDS
    return (
        bool(seconds)
        and warning.recovered_at is not None
        and (observed_at - warning.recovered_at > timedelta(seconds=seconds))
    )


def apply_series(
    sensor: Sensor,
    rule: ThresholdRule,
    warning: Warning | None,
    readings: list[history.Point],
    *,
    newest_at: datetime | None,
    now: datetime,
    progress: dict | None = None,
    silenced: set[int] | frozenset[int] = frozenset(),
) -> tuple[Warning | None, int]:
    """Move the (sensor, rule) warning by a state's new readings (in order of
    observation); returns it and the transitions written.

    ``newest_at`` is the newest observation already evaluated: readings up
    to it arrived late (a gateway's buffer, a back-fill, an archive) and are
    taken apart (``apply_late_readings``; a duration or rate rule's in
    ``_apply_rule_kind_series``). Of the others, an episode that began and
    ended more than WARNING_HISTORICAL_AFTER_MINUTES ago (a gateway back
    after days offline, an archive posted in order) is recorded as history;
    the rest move the live warning reading by reading (``_apply_fresh``).

    ``silenced``: the ids of readings in a maintenance window. Newer than
    any evaluated, they move the live warning as ``apply_reading`` says;
    they are no evidence of the past, so they start, extend or end no
    historical episode and late ones are left out (one within a historical
    episode's time goes with it).
    """
    if warning is not None and (newest_at is None or warning.last_observed_at > newest_at):
        newest_at = warning.last_observed_at
    fresh_from = 0
    if newest_at is not None:
        while fresh_from < len(readings) and readings[fresh_from][1] <= newest_at:
            fresh_from += 1
    if rule.kind != RuleKind.THRESHOLD or rule.holds:
        return _apply_rule_kind_series(
            sensor, rule, warning, readings, fresh_from, now=now, progress=progress, silenced=silenced
        )
    changed = 0
    late = [point for point in readings[:fresh_from] if point[0] not in silenced]
    if late:
        warning, changed = late_readings.apply_late_readings(sensor, rule, warning, late)
    fresh = readings[fresh_from:]
    if not fresh:
        return warning, changed
    warning, step = _apply_fresh(sensor, rule, warning, fresh, now=now, silenced=silenced)
    return warning, changed + step


def _apply_fresh(
    sensor: Sensor,
    rule: ThresholdRule,
    warning: Warning | None,
    fresh: list[history.Point],
    *,
    now: datetime,
    progress: dict | None = None,
    silenced: set[int] | frozenset[int],
) -> tuple[Warning | None, int]:
    """Readings newer than any evaluated (see ``apply_series``), cut into
    episodes with the rule's own semantics from the state it is in (the
    open warning's level, a duration rule's runs in ``progress``).

    ``progress`` comes out as the readings left it, history included: an
    episode recorded as history ended on a normal reading, which ends
    every run, so the live readings after it start afresh, as they would
    have had each reading moved the live warning.
    """
    changed = 0
    active = warning.level if warning is not None and warning.status == WarningStatus.ACTIVE else None
    ended_before = now - timedelta(minutes=settings.WARNING_HISTORICAL_AFTER_MINUTES)
    past: set[int] = set()
    recoveries: set[int] = set()
    heard = [point for point in fresh if point[0] not in silenced]
    for episode in history.episodes(rule, heard, active_level=active, progress=progress):
        if history.is_history(episode, ended_before=ended_before):
            changed += transitions.record_historical(sensor, rule, episode)
            recoveries.add(heard[episode.last][0])
            # A duration rule's event began with its run, before it opened.
            since = episode.held_since or episode.opened_at
            past.update(
                reading_id
                for reading_id, observed_at, _value in fresh
                if since <= observed_at <= episode.last_observed_at
            )
    for reading_id, observed_at, value in fresh:
        if reading_id in past:
            if reading_id in recoveries and progress is not None:
                progress.clear()
            continue
        warning, step = apply_reading(
            sensor, rule, warning, observed_at, value, progress=progress, silenced=reading_id in silenced
        )
        changed += step
    _reading_id, observed_at, value = fresh[-1]
    if warning is not None and observed_at > warning.last_observed_at:
        # The newest reading was part of history: still the sensor's latest value.
        warning.last_value, warning.last_observed_at = value, observed_at
    return warning, changed


def _apply_rule_kind_series(
    sensor: Sensor,
    rule: ThresholdRule,
    warning: Warning | None,
    readings: list[history.Point],
    fresh_from: int,
    *,
    now: datetime,
    progress: dict | None,
    silenced: set[int] | frozenset[int],
) -> tuple[Warning | None, int]:
    """A duration, rate-of-change or no-data rule's new readings (see ``apply_series``).

    Durations and rates take the path of thresholds, each replayed with its
    own semantics (``history.episodes``): a rate rule's values are already
    the change over its window at each reading's time, computed from the
    stored readings; a duration rule's fresh readings go on from the runs
    in its state row, its late ones must hold within themselves
    (``apply_late_rule_kind``). A no-data rule is swept, not fed readings:
    a reading only recovers its open warning.
    """
    fresh = readings[fresh_from:]
    changed = 0
    if rule.kind == RuleKind.NO_DATA:
        for reading_id, observed_at, value in fresh:
            warning, step = apply_reading(sensor, rule, warning, observed_at, value, silenced=reading_id in silenced)
            changed += step
        return warning, changed
    late = [point for point in readings[:fresh_from] if point[0] not in silenced]
    if late:
        changed += late_readings.apply_late_rule_kind(sensor, rule, warning, late)
    if fresh:
        warning, step = _apply_fresh(sensor, rule, warning, fresh, now=now, progress=progress, silenced=silenced)
        changed += step
    return warning, changed


def _close_superseded(warning: Warning, observed_at: datetime) -> None:
    """Close a recovered warning that a new one replaces; its work orders stay with it."""
    note = _("Recovered for longer than the reactivation window; the condition came back as a new warning.")
    transitions.close(warning, disposal_note=note, observed_at=observed_at)
