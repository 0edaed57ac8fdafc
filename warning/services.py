"""Every write of the warning app: evaluation of readings and warning state.

A warning's level and status change here and nowhere else.
"""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from citysafety import realtime
from citysafety.errors import ConflictError, InvalidInputError, NotFoundError
from monitoring.models import Sensor
from monitoring.services import sensor_states_lock
from warning import evaluation_queue, selectors
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
# A drain takes this many waiting sensors at a time, ranks them and
# evaluates them a chunk at a time; it hands back what is left after
# DRAIN_SECONDS, so a worker is never held by one drain for long.
DRAIN_TAKE = 2000
DRAIN_SECONDS = 10.0


def sensors_evaluate(*, sensor_ids: list[int]) -> int:
    """Evaluate the new readings of these sensors; returns transitions written.

    Works in chunks of sensors, one transaction each, holding the sensors'
    state rows (the lock ingestion takes too, always in id order). Only
    sensors marked unevaluated by ingestion are looked at. Each rule
    evaluates the readings past its id watermark, so a retry, a second
    worker or the sweep evaluate nothing twice.
    """
    ids = sorted(set(sensor_ids))
    transitions = 0
    for start in range(0, len(ids), CHUNK_SIZE):
        transitions += _evaluate_chunk(ids[start : start + CHUNK_SIZE])
    return transitions


def sensors_drain(*, take: int = DRAIN_TAKE, budget_seconds: float = DRAIN_SECONDS) -> int:
    """Evaluate the sensors waiting in the queue until none waits; returns how many.

    Most severe first: each take is ranked by the level its newest value
    reaches, and merged with what this drain still holds, so a Level I
    reading that arrives during a long drain is evaluated next, not after
    the backlog. What is left when the time budget is spent goes back to
    the queue for the next drain.
    """
    deadline = time.monotonic() + budget_seconds
    held: list[tuple[int, int]] = []  # (rank, sensor id), most severe first
    evaluated = 0
    while True:
        fresh = evaluation_queue.sensors_take(take)
        if fresh:
            held = sorted(held + _ranked(fresh))
        if not held:
            return evaluated
        chunk, held = held[:CHUNK_SIZE], held[CHUNK_SIZE:]
        try:
            _evaluate_chunk(sorted(sensor_id for _, sensor_id in chunk))
        except Exception:
            # The rest go back for the next drain; this chunk stays marked in
            # the database for the sweep, so a sensor that fails every time
            # cannot hold up the others' drains.
            evaluation_queue.sensors_return([sensor_id for _, sensor_id in held])
            raise
        evaluated += len(chunk)
        if time.monotonic() > deadline:
            evaluation_queue.sensors_return([sensor_id for _, sensor_id in held])
            return evaluated


def _ranked(sensor_ids: list[int]) -> list[tuple[int, int]]:
    """(rank, sensor id): the most severe level the sensor's newest value
    reaches under its rules (1 … 3), 4 for a value that reaches none."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, s.sensor_type_id, st.latest_value FROM monitoring_sensor AS s"
            " JOIN monitoring_sensorstate AS st ON st.sensor_id = s.id WHERE s.id = ANY(%s)",
            [sensor_ids],
        )
        rows = cursor.fetchall()
    found = {row[0] for row in rows}
    rules = selectors.rules_for_sensors(
        [Sensor(pk=sensor_id, sensor_type_id=type_id) for sensor_id, type_id, _ in rows]
    )
    ranked = [(4, sensor_id) for sensor_id in sensor_ids if sensor_id not in found]
    for sensor_id, _type_id, value in rows:
        levels = (
            [classify(rule, value, in_warning=False) for rule in rules.get(sensor_id, ())] if value is not None else []
        )
        ranked.append((min((level for level in levels if level > 0), default=4), sensor_id))
    return ranked


def sensor_evaluate(*, sensor_id: int) -> int:
    return sensors_evaluate(sensor_ids=[sensor_id])


def _evaluate_chunk(sensor_ids: list[int]) -> int:
    transitions = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            sensor_states_lock(cursor, sensor_ids, create_missing=False)
            cursor.execute(
                "SELECT sensor_id, latest_reading_id, unevaluated_observed_from FROM monitoring_sensorstate"
                " WHERE sensor_id = ANY(%s) AND unevaluated_since IS NOT NULL",
                [sensor_ids],
            )
            pending = {sensor_id: (latest_id, observed_from) for sensor_id, latest_id, observed_from in cursor}
        if not pending:
            return 0
        # Only what evaluation and routing read: a sensor's location and
        # texts are not loaded for every chunk.
        sensors = {
            s.pk: s
            for s in Sensor.objects.filter(pk__in=list(pending)).only(
                "id", "sensor_type_id", "owner_department_id", "district_id"
            )
        }
        rules_by_sensor = selectors.rules_for_sensors(list(sensors.values()))
        pairs = {(sensor_id, rule.pk) for sensor_id, rules in rules_by_sensor.items() for rule in rules}
        states = _states_in_effect(list(sensors), pairs)
        rules = {rule.pk: rule for rules in rules_by_sensor.values() for rule in rules}
        floor = timezone.now() - FIRST_EVALUATION_LOOKBACK
        readings = _new_readings(states, pending, floor)
        open_warnings = {
            (w.sensor_id, w.rule_id): w
            for w in Warning.objects.select_for_update()
            .filter(sensor_id__in=list(readings))
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
            rule = rules[state.rule_id]
            if warning is None and state.evaluated_through is not None and _all_normal(rule, series):
                # The common case, by far: no warning, nothing to warn of.
                # Only the watermark moves (a late reading cannot open a
                # warning either when no value reaches a threshold).
                state.evaluated_through = max(state.evaluated_through, max(at for _, at, _ in series))
                state.last_reading_id = max(reading_id for reading_id, _, _ in series)
                moved.append(state)
                continue
            changed = 0
            for _reading_id, observed_at, value in series:
                warning, step = _apply_reading(
                    sensors[state.sensor_id],
                    rule,
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
                if not changed:
                    warning_value_changed(warning_id=warning.pk)
            if changed:
                touched_sensors.add(state.sensor_id)
                transitions += changed
            state.last_reading_id = max(reading_id for reading_id, _, _ in series)
            moved.append(state)
        _save_watermarks(moved)
        _clear_evaluated(pending, states)
        for sensor_id in sorted(touched_sensors):
            _refresh_sensor_level(sensor_id)
    return transitions


def _all_normal(rule: ThresholdRule, series: list[tuple[int, datetime, float]]) -> bool:
    return all(classify(rule, value, in_warning=False) == NORMAL for _, _, value in series)


def _save_watermarks(states: list[RuleState]) -> None:
    """One statement for the chunk (bulk_update built a CASE per row in
    Python: two thirds of evaluation's time)."""
    if not states:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE warning_rulestate AS s SET last_reading_id = v.last_reading_id,"
            " evaluated_through = v.evaluated_through"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS v (id, last_reading_id, evaluated_through)"
            " WHERE s.id = v.id",
            [[s.pk for s in states], [s.last_reading_id for s in states], [s.evaluated_through for s in states]],
        )


def _clear_evaluated(pending: dict[int, tuple[int | None, datetime | None]], states: list[RuleState]) -> None:
    """Clear the unevaluated marks of the sensors whose every rule has seen
    every reading (the lock keeps new ones out meanwhile). A sensor with no
    rule has nothing to evaluate: its mark goes too."""
    behind = {
        state.sensor_id
        for state in states
        if (latest := pending[state.sensor_id][0]) is not None
        and (state.last_reading_id is None or state.last_reading_id < latest)
    }
    done = [sensor_id for sensor_id in pending if sensor_id not in behind]
    if done:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE monitoring_sensorstate SET unevaluated_since = NULL, unevaluated_observed_from = NULL"
                " WHERE sensor_id = ANY(%s)",
                [done],
            )


def _states_in_effect(sensor_ids: list[int], pairs: set[tuple[int, int]]) -> list[RuleState]:
    """The state rows of the rules in effect, created where missing.

    Rows of rules no longer in effect (deactivated, or overridden by a rule
    on the sensor) are deleted: the sweep would otherwise find them behind
    for ever.
    """
    states = list(RuleState.objects.filter(sensor_id__in=sensor_ids).order_by("sensor_id", "rule_id"))
    missing = pairs - {(state.sensor_id, state.rule_id) for state in states}
    if missing:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO warning_rulestate (sensor_id, rule_id) "
                "SELECT s, r FROM unnest(%s::bigint[], %s::bigint[]) AS p (s, r) "
                "ON CONFLICT (sensor_id, rule_id) DO NOTHING",
                [[s for s, _ in sorted(missing)], [r for _, r in sorted(missing)]],
            )
        states = list(RuleState.objects.filter(sensor_id__in=sensor_ids).order_by("sensor_id", "rule_id"))
    stale = [state.pk for state in states if (state.sensor_id, state.rule_id) not in pairs]
    if stale:
        RuleState.objects.filter(pk__in=stale).delete()
    return [state for state in states if (state.sensor_id, state.rule_id) in pairs]


def _new_readings(
    states: list[RuleState], pending: dict[int, tuple[int | None, datetime | None]], floor: datetime
) -> dict[int, list[tuple[int, datetime, float]]]:
    """Each sensor's readings past its rules' watermarks, in observation order.

    Read from the sensor's oldest unevaluated observation on, by the index
    on (sensor, observed_at), so the cost does not grow with the sensor's
    history. A rule seen for the first time starts at ``floor`` (recent
    history only). At most MAX_READINGS_PER_RUN per sensor, the earliest to
    arrive first; the rest wait for the next run.
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
    start = []
    for sensor_id in ids:
        observed_from = pending[sensor_id][1]
        if after[sensor_id] is None:
            observed_from = floor if observed_from is None else max(observed_from, floor)
        start.append(observed_from)
    readings: dict[int, list[tuple[int, datetime, float]]] = {}
    if not ids:
        return readings
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, sensor_id, observed_at, value FROM ("
            "  SELECT r.id, r.sensor_id, r.observed_at, r.value,"
            "         row_number() OVER (PARTITION BY r.sensor_id ORDER BY r.id) AS n"
            "  FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS w (sensor_id, after_id, observed_from)"
            "  JOIN monitoring_reading AS r ON r.sensor_id = w.sensor_id"
            "   AND r.observed_at >= coalesce(w.observed_from, '-infinity')"
            "   AND (w.after_id IS NULL OR r.id > w.after_id)"
            ") AS new WHERE n <= %s ORDER BY sensor_id, observed_at, id",
            [ids, [after[i] for i in ids], start, MAX_READINGS_PER_RUN],
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


def warning_close(*, warning_id: int, user: AbstractBaseUser, note: str, close_active: bool = False) -> Warning:
    """Close an open warning with a disposal note (the end of the loop).

    A warning whose sensor still reads in warning closes only when the
    person says so (``close_active``), with the note as the reason; it is
    recorded as closed while active. Callers check what else must hold
    first (dispatch: every work order reported); this checks only the
    warning's own state.
    """
    note = (note or "").strip()
    if not note:
        if close_active:
            raise InvalidInputError(
                _("Give the reason for closing a warning whose sensor is still in warning."), field="note"
            )
        raise InvalidInputError(_("Write a disposal note before closing the warning."), field="note")
    with transaction.atomic():
        warning = warning_lock_open(warning_id=warning_id)
        still_active = warning.status == WarningStatus.ACTIVE
        if still_active and not close_active:
            raise ConflictError(warning_still_active_message(warning))
        warning.status = WarningStatus.CLOSED
        warning.closed_at = timezone.now()
        warning.closed_by = user
        warning.disposal_note = note
        warning.closed_while_active = still_active
        _record(warning, TransitionKind.CLOSED, warning.level, warning.level, None, None, actor=user, note=note)
        _refresh_sensor_level(warning.sensor_id)
    return warning


def push_warning(*, warning_id: int) -> None:
    """Send the warning as it now stands to the duty officers' screens."""
    payload = selectors.warning_payload(warning_id)
    if payload is not None:
        realtime.send([realtime.DUTY_GROUP], "warning.changed", payload)


def warning_still_active_message(warning: Warning) -> str:
    """Why closing this active warning needs the person's explicit choice."""
    current = warning.current_level
    if current:
        where = _("The sensor still reads %(value)s, at %(level)s.") % {
            "value": f"{warning.last_value:g}",
            "level": Warning(level=current).get_level_display(),
        }
    else:
        where = _("The sensor still reads %(value)s, not yet back past the dead band.") % {
            "value": f"{warning.last_value:g}"
        }
    return " ".join(
        [
            where,
            str(
                _(
                    "The warning is active and its next reading would open a new one. To close it anyway,"
                    " confirm that you close an active warning and give the reason."
                )
            ),
        ]
    )


# --- Value updates, coalesced ---------------------------------------------------
# A level or status change is pushed at once (``_record``). A new value alone
# is pushed at most once per warning per WARNING_VALUE_PUSH_SECONDS: the
# first change of a quiet warning sets a Redis key (NX) and schedules one
# push that long after; changes meanwhile find the key and ride along, since
# the push reads the warning as it then stands. The push clears the key
# before reading, so a change committed after that read starts a new window.
VALUE_PUSH_KEY = "citysafety:warning:value-push:{}"
# The key outlives a lost task by this long at most (a broker purge).
VALUE_PUSH_KEY_SECONDS = 30


def warning_value_changed(*, warning_id: int) -> None:
    """After commit: have the warning's new value pushed, coalesced (see above)."""
    transaction.on_commit(lambda: _value_push_schedule(warning_id))


def _value_push_schedule(warning_id: int) -> None:
    from warning.tasks import push_warning_value

    try:
        if evaluation_queue.client().set(VALUE_PUSH_KEY.format(warning_id), 1, nx=True, ex=VALUE_PUSH_KEY_SECONDS):
            try:
                push_warning_value.apply_async((warning_id,), countdown=settings.WARNING_VALUE_PUSH_SECONDS)
            except Exception:
                evaluation_queue.client().delete(VALUE_PUSH_KEY.format(warning_id))
                raise
    except Exception:
        # Best effort, like every push: the screens resync from the API and
        # the next change of the warning pushes it again.
        log.warning("Could not schedule the value push of warning %s", warning_id, exc_info=True)


def warning_value_push(*, warning_id: int) -> None:
    """The scheduled push: open the next window, then send the warning as it stands."""
    try:
        evaluation_queue.client().delete(VALUE_PUSH_KEY.format(warning_id))
    except Exception:
        log.warning("Could not clear the value push window of warning %s", warning_id, exc_info=True)
    push_warning(warning_id=warning_id)
