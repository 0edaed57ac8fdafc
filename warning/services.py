"""Every write of the warning app: evaluation of readings and warning state.

A warning's level and status change here and nowhere else.
"""

import logging
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from citysafety import realtime
from citysafety.errors import ConflictError, InvalidInputError, NotFoundError
from monitoring.models import Sensor
from monitoring.services import sensors_lock
from warning import selectors
from warning.evaluation import HOLD, NORMAL, classify, worse
from warning.events import warning_changed
from warning.models import RuleState, ThresholdRule, TransitionKind, Warning, WarningStatus, WarningTransition

log = logging.getLogger(__name__)

# A state row seen for the first time evaluates only this much history, so
# adding a rule to a sensor with years of readings does not replay them all.
FIRST_EVALUATION_LOOKBACK = timedelta(hours=1)
# Readings evaluated per (sensor, rule) in one transaction; the rest wait
# for the next run (the periodic sweep finds them by the watermark).
MAX_READINGS_PER_RUN = 2000


# Sensors evaluated in one transaction: few queries per chunk instead of
# several per sensor (``bench/run.py`` measures the difference).
CHUNK_SIZE = 200


def sensors_evaluate(*, sensor_ids: list[int]) -> int:
    """Evaluate the new readings of these sensors; returns transitions written.

    Works in chunks of sensors, one transaction each, holding the sensors'
    rows (the lock ingestion takes too, always in id order). Each rule
    evaluates the readings past its id watermark, so a retry, a second
    worker or the sweep evaluate nothing twice.
    """
    ids = sorted(set(sensor_ids))
    transitions = 0
    for start in range(0, len(ids), CHUNK_SIZE):
        transitions += _evaluate_chunk(ids[start : start + CHUNK_SIZE])
    return transitions


def sensor_evaluate(*, sensor_id: int) -> int:
    return sensors_evaluate(sensor_ids=[sensor_id])


def _evaluate_chunk(sensor_ids: list[int]) -> int:
    transitions = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            sensors_lock(cursor, sensor_ids)
        sensors = {s.pk: s for s in Sensor.objects.select_related("sensor_type").filter(pk__in=sensor_ids)}
        rules_by_sensor = selectors.rules_for_sensors(list(sensors.values()))
        pairs = {(sensor_id, rule.pk) for sensor_id, rules in rules_by_sensor.items() for rule in rules}
        states = _states_in_effect(list(sensors), pairs)
        if not states:
            return 0
        rules = {rule.pk: rule for rules in rules_by_sensor.values() for rule in rules}
        floor = timezone.now() - FIRST_EVALUATION_LOOKBACK
        readings = _new_readings(states, floor)
        open_warnings = {
            (w.sensor_id, w.rule_id): w
            for w in Warning.objects.select_for_update()
            .filter(sensor_id__in=list(rules_by_sensor))
            .exclude(status=WarningStatus.CLOSED)
        }
        moved: list[RuleState] = []
        touched_sensors = set()
        for state in states:
            series = [
                (reading_id, at, value)
                for reading_id, at, value in readings.get(state.sensor_id, ())
                if (reading_id > state.last_reading_id if state.last_reading_id is not None else at >= floor)
            ]
            if not series:
                continue
            warning = open_warnings.get((state.sensor_id, state.rule_id))
            changed = 0
            for _reading_id, observed_at, value in series:
                warning, step = _apply_reading(
                    sensors[state.sensor_id],
                    rules[state.rule_id],
                    warning,
                    observed_at,
                    value,
                    newest_at=state.evaluated_through,
                )
                changed += step
                if state.evaluated_through is None or observed_at > state.evaluated_through:
                    state.evaluated_through = observed_at
            if warning is not None:
                warning.save(
                    update_fields=["level", "status", "last_value", "peak_value", "last_observed_at", "recovered_at"]
                )
            if changed:
                touched_sensors.add(state.sensor_id)
                transitions += changed
            state.last_reading_id = max(reading_id for reading_id, _, _ in series)
            moved.append(state)
        if moved:
            RuleState.objects.bulk_update(moved, ["last_reading_id", "evaluated_through"])
        for sensor_id in sorted(touched_sensors):
            _refresh_sensor_level(sensor_id)
    return transitions


def _states_in_effect(sensor_ids: list[int], pairs: set[tuple[int, int]]) -> list[RuleState]:
    """The state rows of the rules in effect, created where missing.

    Rows of rules no longer in effect (deactivated, or overridden by a rule
    on the sensor) are deleted: the sweep would otherwise find them behind
    for ever.
    """
    with connection.cursor() as cursor:
        if pairs:
            cursor.execute(
                "INSERT INTO warning_rulestate (sensor_id, rule_id) "
                "SELECT s, r FROM unnest(%s::bigint[], %s::bigint[]) AS p (s, r) "
                "ON CONFLICT (sensor_id, rule_id) DO NOTHING",
                [[s for s, _ in sorted(pairs)], [r for _, r in sorted(pairs)]],
            )
    states = list(RuleState.objects.filter(sensor_id__in=sensor_ids).order_by("sensor_id", "rule_id"))
    stale = [state.pk for state in states if (state.sensor_id, state.rule_id) not in pairs]
    if stale:
        RuleState.objects.filter(pk__in=stale).delete()
    return [state for state in states if (state.sensor_id, state.rule_id) in pairs]


def _new_readings(states: list[RuleState], floor: datetime) -> dict[int, list[tuple[int, datetime, float]]]:
    """Each sensor's readings past its rules' watermarks, in observation order.

    A rule seen for the first time starts at ``floor`` (recent history
    only). At most MAX_READINGS_PER_RUN per sensor, the earliest to arrive
    first; the rest wait for the next run.
    """
    after: dict[int, int | None] = {}
    for state in states:
        mark = state.last_reading_id
        if state.sensor_id not in after:
            after[state.sensor_id] = mark
        elif mark is not None:
            known = after[state.sensor_id]
            after[state.sensor_id] = mark if known is None else min(known, mark)
    ids = list(after)
    readings: dict[int, list[tuple[int, datetime, float]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, sensor_id, observed_at, value FROM ("
            "  SELECT r.id, r.sensor_id, r.observed_at, r.value,"
            "         row_number() OVER (PARTITION BY r.sensor_id ORDER BY r.id) AS n"
            "  FROM monitoring_reading AS r"
            "  JOIN unnest(%s::bigint[], %s::bigint[]) AS w (sensor_id, after_id) ON r.sensor_id = w.sensor_id"
            "  WHERE (w.after_id IS NOT NULL AND r.id > w.after_id) OR (w.after_id IS NULL AND r.observed_at >= %s)"
            ") AS new WHERE n <= %s ORDER BY sensor_id, observed_at, id",
            [ids, [after[i] for i in ids], floor, MAX_READINGS_PER_RUN],
        )
        for reading_id, sensor_id, observed_at, value in cursor.fetchall():
            readings.setdefault(sensor_id, []).append((reading_id, observed_at, value))
    return readings


def _apply_reading(
    sensor: Sensor,
    rule: ThresholdRule,
    warning: Warning | None,
    observed_at: datetime,
    value: float,
    *,
    newest_at: datetime | None,
) -> tuple[Warning | None, int]:
    """Move the (sensor, rule) warning by one reading; returns it and the transitions written.

    ``newest_at`` is the newest observation already evaluated: a reading
    older than that arrived late (a gateway's buffer, a slow batch).
    """
    if newest_at is not None and observed_at <= newest_at:
        return _apply_late_reading(sensor, rule, warning, observed_at, value, newest_at)

    in_warning = warning is not None and warning.status == WarningStatus.ACTIVE
    level = classify(rule, value, in_warning=in_warning)

    if warning is not None:
        warning.last_value = value
        warning.last_observed_at = observed_at
        warning.peak_value = worse(rule.direction, warning.peak_value, value)

    if level == HOLD:
        return warning, 0
    if level == NORMAL:
        if in_warning:
            warning.status = WarningStatus.RECOVERED
            warning.recovered_at = observed_at
            _record(warning, TransitionKind.RECOVERED, warning.level, warning.level, value, observed_at)
            return warning, 1
        return warning, 0

    if warning is None:
        return _open(sensor, rule, level, observed_at, value), 1
    if warning.status == WarningStatus.RECOVERED:
        # The same incident flaring up again before anyone closed it: the
        # open warning comes back, at the worse of its level and the new one.
        previous = warning.level
        warning.status = WarningStatus.ACTIVE
        warning.recovered_at = None
        warning.level = min(previous, level)
        _record(warning, TransitionKind.REACTIVATED, previous, warning.level, value, observed_at)
        return warning, 1
    if level < warning.level:
        return warning, _escalate(warning, level, observed_at, value)
    return warning, 0


def _apply_late_reading(
    sensor: Sensor,
    rule: ThresholdRule,
    warning: Warning | None,
    observed_at: datetime,
    value: float,
    newest_at: datetime,
) -> tuple[Warning | None, int]:
    """A reading older than what was already evaluated.

    It tells what happened, not what is: it may open a warning or raise its
    level, but never recovers one, and an open warning's latest value stays
    the newest reading's. A warning it opens is recovered at once, at the
    newest reading's time, since that reading was normal (no warning was open).
    """
    level = classify(rule, value, in_warning=False)
    if level == NORMAL:
        return warning, 0
    if warning is None:
        warning = _open(sensor, rule, level, observed_at, value)
        warning.status = WarningStatus.RECOVERED
        warning.recovered_at = newest_at
        _record(warning, TransitionKind.RECOVERED, level, level, None, newest_at)
        return warning, 2
    warning.peak_value = worse(rule.direction, warning.peak_value, value)
    if level < warning.level:
        return warning, _escalate(warning, level, observed_at, value)
    return warning, 0


def _open(sensor: Sensor, rule: ThresholdRule, level: int, observed_at: datetime, value: float) -> Warning:
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
    _record(warning, TransitionKind.OPENED, None, level, value, observed_at)
    return warning


def _escalate(warning: Warning, level: int, observed_at: datetime, value: float) -> int:
    previous = warning.level
    warning.level = level
    _record(warning, TransitionKind.ESCALATED, previous, level, value, observed_at)
    return 1


def _record(
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
    warning_changed.send(sender=Warning, warning=warning, transition=transition)
    warning_id = warning.pk
    transaction.on_commit(lambda: push_warning(warning_id=warning_id))
    return transition


def _refresh_sensor_level(sensor_id: int) -> None:
    level = (
        Warning.objects.filter(sensor_id=sensor_id, status=WarningStatus.ACTIVE)
        .aggregate(level=Min("level"))
        .get("level")
    )
    Sensor.objects.filter(pk=sensor_id).exclude(warning_level=level).update(warning_level=level)


def warning_lock_open(*, warning_id: int) -> Warning:
    """Lock an open warning for a change, inside the caller's transaction."""
    warning = Warning.objects.select_for_update().filter(pk=warning_id).first()
    if warning is None:
        raise NotFoundError(_("This warning does not exist."))
    if warning.status == WarningStatus.CLOSED:
        raise ConflictError(_("This warning is already closed."))
    return warning


def warning_close(*, warning_id: int, user: AbstractBaseUser, note: str) -> Warning:
    """Close an open warning with a disposal note (the end of the loop).

    Callers check what else must hold first (dispatch: every work order
    reported); this checks only the warning's own state.
    """
    note = (note or "").strip()
    if not note:
        raise InvalidInputError(_("Write a disposal note before closing the warning."), field="note")
    with transaction.atomic():
        warning = warning_lock_open(warning_id=warning_id)
        warning.status = WarningStatus.CLOSED
        warning.closed_at = timezone.now()
        warning.closed_by = user
        warning.disposal_note = note
        _record(warning, TransitionKind.CLOSED, warning.level, warning.level, None, None, actor=user, note=note)
        _refresh_sensor_level(warning.sensor_id)
    return warning


def push_warning(*, warning_id: int) -> None:
    """Send the warning as it now stands to the duty officers' screens."""
    payload = selectors.warning_payload(warning_id)
    if payload is not None:
        realtime.send([realtime.DUTY_GROUP], "warning.changed", payload)
