"""Evaluation of readings: the queue, the drain and the chunks; closing a warning.

A chunk locks its sensors, reads their new readings and hands each (sensor,
rule)'s series to ``warning.series``; a warning's level and status change
only in ``warning.transitions``.
"""

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth.models import AbstractBaseUser
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citysafety.errors import ConflictError, InvalidInputError, NotFoundError
from monitoring.models import Sensor
from monitoring.services import array_literal
from warning import evaluation_queue, flapping, pushes, rule_kinds, selectors, series, silence_windows, transitions
from warning.evaluation import classify
from warning.models import RuleKind, ThresholdRule, Warning, WarningStatus

log = logging.getLogger(__name__)

# A state row seen for the first time (a new sensor, a rule just added)
# starts at the sensor's oldest unevaluated reading (by id: the readings
# that arrived since the sensor was last evaluated, whatever their age), so
# a gateway's back-fill or an archive import is evaluated, while a rule
# added to a sensor with years of evaluated history does not replay them.
# Only a mark set before that id was kept has no id: then the rule looks
# back this much history and no further.
FIRST_EVALUATION_LOOKBACK = timedelta(hours=1)
# Readings evaluated per (sensor, rule) in one transaction; the rest wait
# for the next run (the periodic sweep finds them by the watermark).
MAX_READINGS_PER_RUN = 2000


# Sensors evaluated in one transaction: a handful of queries per chunk,
# whatever its size (``python -m bench.profile drain`` measures it). A chunk
# holds its sensors' state rows until it commits, so ingestion of those
# sensors waits that long: small enough to stay well under a second.
CHUNK_SIZE = 500
# A drain hands the queue back to a fresh task after this long, so a worker
# is never held by one drain for long.
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
    written = 0
    for start in range(0, len(ids), CHUNK_SIZE):
        written += chunk_evaluate(ids[start : start + CHUNK_SIZE])
    return written


def sensors_drain(*, budget_seconds: float = DRAIN_SECONDS) -> int:
    """Evaluate the sensors waiting in the queue until none waits; returns how many.

    Most severe first: each chunk is taken from the front of the queue
    (ranked by level when the readings were stored), so a Level I reading
    stored during a long drain is in the next chunk, not after the backlog.
    Two drains take chunks side by side. A sensor whose evaluation fails
    stays marked in the database for the sweep, and the rest of its chunk
    is evaluated without it (``chunk_evaluate``), so a sensor that fails
    every time cannot hold up the others.
    """
    deadline = time.monotonic() + budget_seconds
    evaluated = 0
    while True:
        chunk = evaluation_queue.sensors_take(CHUNK_SIZE)
        if not chunk:
            return evaluated
        chunk_evaluate(sorted(chunk))
        evaluated += len(chunk)
        if time.monotonic() > deadline:
            return evaluated


def sensors_enqueue(*, sensor_ids: Iterable[int], latest: dict[int, tuple[int, float]] | None = None) -> bool:
    """Queue sensors for evaluation, ranked by the level their newest value
    reaches; True when a drain task must be started.

    ``latest`` maps sensor id to (sensor type id, newest value) as ingestion
    knows them; the sensors it leaves out are looked up (one query).
    """
    known = dict(latest or {})
    unknown = sorted(set(sensor_ids) - set(known))
    if unknown:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.id, s.sensor_type_id, st.latest_value FROM monitoring_sensor AS s"
                " LEFT JOIN monitoring_sensorstate AS st ON st.sensor_id = s.id WHERE s.id = ANY(%s::bigint[])",
                [array_literal(unknown)],
            )
            known.update((sensor_id, (type_id, value)) for sensor_id, type_id, value in cursor)
    if not known:
        return False
    return evaluation_queue.sensors_mark(sensors_rank(known))


def sensors_rank(latest: dict[int, tuple[int, float | None]]) -> dict[int, int]:
    """Sensor id: the most severe level (1 … 3) its newest value (sensor id:
    (type id, value)) reaches under its rules, or ``evaluation_queue.UNRANKED``.
    One query (the rules)."""
    keys = [_SensorKey(sensor_id, type_id) for sensor_id, (type_id, _value) in latest.items()]
    rules = selectors.rules_for_sensors(keys)
    ranks = {}
    for sensor_id, (_type_id, value) in latest.items():
        rank = evaluation_queue.UNRANKED
        if value is not None:
            for rule in rules.get(sensor_id, ()):
                if rule.kind != RuleKind.THRESHOLD:
                    continue  # a rate rule's value is a change, not the reading
                level = classify(rule, value, in_warning=False)
                if 0 < level < rank:
                    rank = level
        ranks[sensor_id] = rank
    return ranks


class _SensorKey(NamedTuple):
    """What rule lookup needs of a sensor, without building a model instance."""

    pk: int
    sensor_type_id: int


def sensor_evaluate(*, sensor_id: int) -> int:
    return sensors_evaluate(sensor_ids=[sensor_id])


# A sensor waiting for evaluation: its newest reading id, its oldest
# unevaluated observation and its oldest unevaluated reading id.
_Pending = tuple[int | None, datetime | None, int | None]


@dataclass
class _State:
    """One (sensor, rule) state row as evaluation reads and moves it."""

    pk: int | None
    sensor_id: int
    rule_id: int
    last_reading_id: int | None
    evaluated_through: datetime | None


# The chunk's sensors that hold unevaluated readings, locked (in id order,
# as ingestion locks them), with the newest reading id, where their
# unevaluated readings start and their type (for the rules). A sensor no
# longer marked is skipped without waiting for its lock. No JIT compilation
# in this transaction: the planner's guess for the readings of 500 sensors
# crosses jit_above_cost, and compiling took longer (25 ms) than the query.
_LOCK_PENDING = """
    SET LOCAL jit = off;
    SELECT st.sensor_id, st.latest_reading_id, st.unevaluated_observed_from, s.sensor_type_id,
           st.unevaluated_reading_id_from
    FROM monitoring_sensorstate AS st
    JOIN monitoring_sensor AS s ON s.id = st.sensor_id
    WHERE st.sensor_id = ANY(%s::bigint[]) AND st.unevaluated_since IS NOT NULL
    ORDER BY st.sensor_id
    FOR NO KEY UPDATE OF st
"""

# Read once the locks are held, in a statement of its own: a statement that
# waited for a lock sees other tables as they were when it began, and a
# drain that evaluated the sensor meanwhile moved these rows. The state rows
# of the locked sensors, then (with no id) their open warnings.
_STATES_AND_OPEN_WARNINGS = """
    SELECT id, sensor_id, rule_id, last_reading_id, evaluated_through FROM warning_rulestate
    WHERE sensor_id = ANY(%s::bigint[])
    UNION ALL
    SELECT NULL, sensor_id, rule_id, NULL, NULL FROM warning_warning
    WHERE sensor_id = ANY(%s::bigint[]) AND status <> 'closed'
"""

# Each state's new readings (past its watermark, or from ``floor`` for a
# rule seen for the first time; at most MAX_READINGS_PER_RUN, the earliest to
# arrive first), read from the sensor's oldest unevaluated observation on by
# the index on (sensor, observed_at), so the cost does not grow with the
# sensor's history. Summed up per state: how many, the newest id and
# observation, and whether any value reaches one of the rule's thresholds
# (``upper``/``lower``: the Level III thresholds, a band has both; NULL
# never reaches). Readings are never fetched for a state whose every value
# is normal: only its watermark moves. A rate-of-change rule classifies
# ``x``, the reading's change over its window (``rate_seconds``), from the
# lowest (a rise) or highest (a fall) stored reading of the window, late
# ones included; the window's lateral is skipped for other rules.
_NEW_READINGS = """
    FROM unnest(%s::int[], %s::bigint[], %s::bigint[], %s::timestamptz[], %s::double precision[],
                %s::double precision[], %s::int[], %s::text[])
         AS w (n, sensor_id, after_id, observed_from, upper, lower, rate_seconds, rate_mode)
    CROSS JOIN LATERAL (
        SELECT r.id, r.observed_at, r.value FROM monitoring_reading AS r
        WHERE r.sensor_id = w.sensor_id AND r.observed_at >= w.observed_from
          AND (w.after_id IS NULL OR r.id > w.after_id)
        ORDER BY r.id LIMIT %s
    ) AS r
    LEFT JOIN LATERAL (
        SELECT min(p.value) AS low, max(p.value) AS high FROM monitoring_reading AS p
        WHERE w.rate_seconds IS NOT NULL AND p.sensor_id = w.sensor_id
          AND p.observed_at >= r.observed_at - make_interval(secs => w.rate_seconds)
          AND p.observed_at <= r.observed_at
    ) AS win ON true
    CROSS JOIN LATERAL (
        SELECT CASE w.rate_mode
            WHEN 'rise' THEN r.value - win.low
            WHEN 'fall' THEN win.high - r.value
            WHEN 'rise%%' THEN coalesce((r.value - win.low) / nullif(abs(win.low), 0) * 100, 0)
            WHEN 'fall%%' THEN coalesce((win.high - r.value) / nullif(abs(win.high), 0) * 100, 0)
            ELSE r.value END AS x
    ) AS x
"""
_NEW_READINGS_SUMMED = (
    "SELECT w.n, max(r.id), max(r.observed_at), coalesce(bool_or(x.x >= w.upper OR x.x <= w.lower), false)"
    + _NEW_READINGS
    + " GROUP BY w.n"
)
_NEW_READINGS_LISTED = "SELECT w.n, r.id, r.observed_at, x.x" + _NEW_READINGS + " ORDER BY w.n, r.observed_at, r.id"

# Watermarks moved and marks cleared in one round trip. The second list of
# state ids lets the planner find the rows by their key rather than hash the
# whole table for every chunk.
_SAVE = """
    WITH moved AS (
        UPDATE warning_rulestate AS s SET last_reading_id = v.last_reading_id, evaluated_through = v.evaluated_through
        FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS v (id, last_reading_id, evaluated_through)
        WHERE s.id = v.id AND s.id = ANY(%s::bigint[])
    )
    UPDATE monitoring_sensorstate
    SET unevaluated_since = NULL, unevaluated_observed_from = NULL, unevaluated_reading_id_from = NULL
    WHERE sensor_id = ANY(%s::bigint[])
"""


# Failures that say nothing of one sensor: the chunk ends with them, as it
# is, and the sweep evaluates its sensors again later.
_TRANSIENT = (OperationalError, InterfaceError, SoftTimeLimitExceeded)


def chunk_evaluate(sensor_ids: list[int]) -> int:
    """Evaluate the new readings of these sensors (sorted ids) in one
    transaction; returns transitions written.

    Routing runs in this transaction (``warning.events``), so a warning is
    never stored without its work orders. A failure that belongs to a sensor
    (a receiver that raises for its warning, a bad rule) undoes the whole
    chunk; the chunk is then evaluated again sensor by sensor, each in a
    transaction of its own, so one sensor that fails every time holds up
    no other. The one that fails is logged and left marked, its readings
    unevaluated, for the sweep to try again. A lost connection, a deadlock
    or the task's time limit (``_TRANSIENT``) end the chunk as they are.
    """
    try:
        return _chunk_evaluate_at_once(sensor_ids)
    except _TRANSIENT:
        raise
    except Exception:
        if len(sensor_ids) == 1:
            log.exception("Evaluation of sensor %s failed; its readings wait for the sweep", sensor_ids[0])
            return 0
        log.warning("A chunk of %d sensors failed; evaluating them one by one", len(sensor_ids), exc_info=True)
    written = 0
    for sensor_id in sensor_ids:
        try:
            written += _chunk_evaluate_at_once([sensor_id])
        except _TRANSIENT:
            raise
        except Exception:
            log.exception("Evaluation of sensor %s failed; its readings wait for the sweep", sensor_id)
    return written


def _chunk_evaluate_at_once(sensor_ids: list[int]) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_LOCK_PENDING, [array_literal(sensor_ids)])
        pending: dict[int, _Pending] = {}
        types: dict[int, int] = {}
        for sensor_id, latest_id, observed_from, type_id, first_id in cursor.fetchall():
            pending[sensor_id] = (latest_id, observed_from, first_id)
            types[sensor_id] = type_id
        if not pending:
            return 0
        locked_ids = array_literal(pending)
        cursor.execute(_STATES_AND_OPEN_WARNINGS, [locked_ids, locked_ids])
        states: list[_State] = []
        has_open: set[int] = set()
        for row in cursor.fetchall():
            if row[0] is None:
                has_open.add(row[1])
            else:
                states.append(_State(*row))
        rules_by_sensor = selectors.rules_for_sensors([_SensorKey(i, t) for i, t in types.items()])
        rules = {rule.pk: rule for rules in rules_by_sensor.values() for rule in rules}
        states = _states_in_effect(cursor, states, rules_by_sensor)
        floor = timezone.now() - FIRST_EVALUATION_LOOKBACK
        summed = _new_readings_summed(cursor, states, rules, pending, floor)
        moved: list[_State] = []
        slow: list[_State] = []
        # A duration rule's run in progress must be ended by a normal reading.
        running = rule_kinds_running(cursor, states, rules)
        for n, state in enumerate(states):
            found = summed.get(n)
            if found is None:
                continue
            newest_id, newest_at, reaches = found
            if not reaches and state.sensor_id not in has_open and state.pk not in running:
                # The common case, by far: no warning, nothing to warn of.
                # Only the watermark moves (a late reading cannot open a
                # warning either when no value reaches a threshold).
                state.last_reading_id = newest_id
                if state.evaluated_through is None or newest_at > state.evaluated_through:
                    state.evaluated_through = newest_at
                moved.append(state)
            else:
                slow.append(state)
        written = _evaluate_series(cursor, slow, rules, floor, pending) if slow else 0
        moved += slow
        done = _caught_up(pending, states)
        cursor.execute(
            _SAVE,
            [
                array_literal([s.pk for s in moved]),
                array_literal([s.last_reading_id for s in moved]),
                array_literal([s.evaluated_through for s in moved]),
                array_literal([s.pk for s in moved]),
                array_literal(done),
            ],
        )
    return written


def _states_in_effect(cursor, states: list[_State], rules_by_sensor: dict[int, list[ThresholdRule]]) -> list[_State]:
    """The state rows of the rules in effect, created where missing.

    Rows of rules no longer in effect (deactivated, or overridden by a rule
    on the sensor) are deleted: the sweep would otherwise find them behind
    for ever.
    """
    pairs = {(sensor_id, rule.pk) for sensor_id, rules in rules_by_sensor.items() for rule in rules}
    missing = sorted(pairs - {(state.sensor_id, state.rule_id) for state in states})
    if missing:
        cursor.execute(
            "INSERT INTO warning_rulestate (sensor_id, rule_id) "
            "SELECT s, r FROM unnest(%s::bigint[], %s::bigint[]) AS p (s, r) "
            "ON CONFLICT (sensor_id, rule_id) DO NOTHING",
            [array_literal([s for s, _ in missing]), array_literal([r for _, r in missing])],
        )
        cursor.execute(
            "SELECT id, sensor_id, rule_id, last_reading_id, evaluated_through FROM warning_rulestate"
            " WHERE sensor_id = ANY(%s::bigint[])",
            [array_literal(sorted({s for s, _ in missing}))],
        )
        known = {(state.sensor_id, state.rule_id) for state in states}
        states += [_State(*row) for row in cursor.fetchall() if (row[1], row[2]) not in known]
    stale = [state.pk for state in states if (state.sensor_id, state.rule_id) not in pairs]
    if stale:
        cursor.execute("DELETE FROM warning_rulestate WHERE id = ANY(%s::bigint[])", [array_literal(stale)])
    return sorted(
        (state for state in states if (state.sensor_id, state.rule_id) in pairs),
        key=lambda state: (state.sensor_id, state.rule_id),
    )


def _window(
    states: list[_State],
    rules: dict[int, ThresholdRule],
    pending: dict[int, _Pending],
    floor: datetime,
) -> list[list]:
    """The parameters of ``_NEW_READINGS`` for these states, in their order."""
    sensor_ids, after, start, upper, lower, rate_seconds, rate_mode = [], [], [], [], [], [], []
    for state in states:
        rule = rules[state.rule_id]
        _latest, observed_from, first_id = pending[state.sensor_id]
        after_id = state.last_reading_id
        if after_id is None:
            # A first evaluation (see FIRST_EVALUATION_LOOKBACK).
            if first_id is not None:
                after_id = first_id - 1
            else:
                observed_from = floor if observed_from is None else max(observed_from, floor)
        sensor_ids.append(state.sensor_id)
        after.append(after_id)
        start.append(observed_from or datetime.min.replace(tzinfo=UTC))
        # classify(rule, value, in_warning=False) is NORMAL exactly when the
        # value reaches none of the thresholds, i.e. not the nearest one(s).
        high, low, seconds, mode = rule_kinds.sql_parameters(rule)
        upper.append(high)
        lower.append(low)
        rate_seconds.append(seconds)
        rate_mode.append(mode)
    arrays = [range(len(states)), sensor_ids, after, start, upper, lower, rate_seconds, rate_mode]
    return [*map(array_literal, arrays), MAX_READINGS_PER_RUN]


def _new_readings_summed(
    cursor,
    states: list[_State],
    rules: dict[int, ThresholdRule],
    pending: dict[int, _Pending],
    floor: datetime,
) -> dict[int, tuple[int, datetime, bool]]:
    """Index in ``states``: (newest id, newest observation, some value reaches a threshold)."""
    if not states:
        return {}
    cursor.execute(_NEW_READINGS_SUMMED, _window(states, rules, pending, floor))
    return {n: (newest_id, newest_at, bool(reaches)) for n, newest_id, newest_at, reaches in cursor.fetchall()}


def _evaluate_series(
    cursor,
    states: list[_State],
    rules: dict[int, ThresholdRule],
    floor: datetime,
    pending: dict[int, _Pending],
) -> int:
    """Evaluate reading by reading the states that may warn or hold an open
    warning; moves their watermarks; returns transitions written."""
    cursor.execute(_NEW_READINGS_LISTED, _window(states, rules, pending, floor))
    by_state: dict[int, list[tuple[int, datetime, float]]] = {}
    for n, reading_id, observed_at, value in cursor.fetchall():
        by_state.setdefault(n, []).append((reading_id, observed_at, value))
    sensor_ids = sorted({state.sensor_id for state in states})
    # Only what evaluation and routing read: a sensor's location and texts
    # are not loaded.
    sensors = {
        s.pk: s
        for s in Sensor.objects.filter(pk__in=sensor_ids).only(
            "id", "sensor_type_id", "owner_department_id", "district_id"
        )
    }
    # Maintenance windows of the chunk's sensors over the readings' times: one query.
    earliest = min((rows[0][1] for rows in by_state.values()), default=None)
    windows = (
        silence_windows.silence_windows(sensor_ids, since=earliest, until=timezone.now())
        if earliest is not None
        else {}
    )
    open_warnings = {
        (w.sensor_id, w.rule_id): w
        for w in Warning.objects.select_for_update()
        .filter(sensor_id__in=sensor_ids)
        .exclude(status=WarningStatus.CLOSED)
    }
    progress = rule_kinds_progress_load(cursor, states, rules)
    written = 0
    touched_sensors = set()
    now = timezone.now()
    for n, state in enumerate(states):
        readings = by_state.get(n)
        if not readings:
            continue
        warning = open_warnings.get((state.sensor_id, state.rule_id))
        rule = rules[state.rule_id]
        window = windows.get(state.sensor_id)
        warning, changed = series.apply_series(
            sensors[state.sensor_id],
            rule,
            warning,
            readings,
            newest_at=state.evaluated_through,
            now=now,
            progress=progress.get(state.pk),
            silenced={reading_id for reading_id, at, _ in readings if silence_windows.covers(window, at)},
        )
        newest_at = readings[-1][1]
        if state.evaluated_through is None or newest_at > state.evaluated_through:
            state.evaluated_through = newest_at
        if warning is not None:
            warning.save(
                update_fields=["level", "status", "last_value", "peak_value", "last_observed_at", "recovered_at"]
            )
            if not changed:
                pushes.warning_value_changed(warning_id=warning.pk)
        if changed:
            touched_sensors.add(state.sensor_id)
            written += changed
        state.last_reading_id = max(reading_id for reading_id, _, _ in readings)
    for sensor_id in sorted(touched_sensors):
        transitions.sensor_level_refresh(sensor_id)
    rule_kinds_progress_save(cursor, progress)
    return written


def rule_kinds_running(cursor, states: list[_State], rules: dict[int, ThresholdRule]) -> set[int]:
    """The state ids of duration rules with a run in progress (one query,
    none when the chunk has no duration rule)."""
    ids = [state.pk for state in states if rules[state.rule_id].holds]
    if not ids:
        return set()
    cursor.execute(
        "SELECT id FROM warning_rulestate WHERE id = ANY(%s::bigint[]) AND hold_progress::text NOT IN ('null', '{}')",
        [array_literal(ids)],
    )
    return {row[0] for row in cursor.fetchall()}


def rule_kinds_progress_load(cursor, states: list[_State], rules: dict[int, ThresholdRule]) -> dict[int, dict]:
    """State id: the runs of its duration rule, as stored (one query)."""
    ids = [state.pk for state in states if rules[state.rule_id].holds]
    if not ids:
        return {}
    cursor.execute(
        "SELECT id, hold_progress::text FROM warning_rulestate WHERE id = ANY(%s::bigint[])", [array_literal(ids)]
    )
    return {pk: (json.loads(progress) if progress else None) or {} for pk, progress in cursor.fetchall()}


def rule_kinds_progress_save(cursor, progress: dict[int, dict]) -> None:
    """Store the runs in the chunk's transaction, with the watermarks they go with."""
    if not progress:
        return
    ids = list(progress)
    cursor.execute(
        "UPDATE warning_rulestate AS s SET hold_progress = v.progress::jsonb"
        " FROM unnest(%s::bigint[], %s::text[]) AS v (id, progress) WHERE s.id = v.id",
        [array_literal(ids), array_literal([json.dumps(progress[pk]) for pk in ids])],
    )


def _caught_up(pending: dict[int, _Pending], states: list[_State]) -> list[int]:
    """The sensors whose every rule has seen every reading (the lock keeps
    new ones out meanwhile): their unevaluated marks are cleared. A sensor
    with no rule has nothing to evaluate: its mark goes too."""
    behind = {
        state.sensor_id
        for state in states
        if (latest := pending[state.sensor_id][0]) is not None
        and (state.last_reading_id is None or state.last_reading_id < latest)
    }
    return [sensor_id for sensor_id in pending if sensor_id not in behind]


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
        transitions.close(warning, disposal_note=note, actor=user)
    return warning


def warning_still_active_message(warning: Warning) -> str:
    """Why closing this active warning needs the person's explicit choice."""
    current = warning.current_level
    if warning.rule.kind == RuleKind.NO_DATA:
        where = _("The sensor is still silent: no reading since %(at)s.") % {
            "at": timezone.localtime(warning.last_observed_at).strftime("%Y-%m-%d %H:%M")
        }
    elif current:
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


# --- Silences lifted, flapping marks cleared (the periodic sweep) ----------------


def sensors_reevaluate_latest(*, sensor_ids: list[int]) -> int:
    """Evaluate each sensor's latest reading once more, as if new; returns transitions written.

    For a silence that ended: a condition still true opens (or brings back,
    or escalates) its warning then. Locks the sensors' state rows in id
    order, as ingestion and evaluation do. A second run finds the warning in
    the state the first left it and changes nothing.
    """
    ids = sorted(set(sensor_ids))
    if not ids:
        return 0
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT st.sensor_id, st.latest_value, st.latest_observed_at, s.sensor_type_id"
            " FROM monitoring_sensorstate AS st JOIN monitoring_sensor AS s ON s.id = st.sensor_id"
            " WHERE st.sensor_id = ANY(%s::bigint[]) AND st.latest_value IS NOT NULL"
            " ORDER BY st.sensor_id FOR NO KEY UPDATE OF st",
            [array_literal(ids)],
        )
        latest = {sensor_id: (value, observed_at, type_id) for sensor_id, value, observed_at, type_id in cursor}
        if not latest:
            return 0
        rules = selectors.rules_for_sensors([_SensorKey(i, t) for i, (_v, _o, t) in latest.items()])
        sensors = {
            s.pk: s
            for s in Sensor.objects.filter(pk__in=list(latest)).only(
                "id", "sensor_type_id", "owner_department_id", "district_id"
            )
        }
        open_warnings = {
            (w.sensor_id, w.rule_id): w
            for w in Warning.objects.select_for_update()
            .filter(sensor_id__in=list(latest))
            .exclude(status=WarningStatus.CLOSED)
        }
        touched = set()
        for sensor_id, (value, observed_at, _type_id) in latest.items():
            for rule in rules.get(sensor_id, ()):
                if rule.kind != RuleKind.THRESHOLD or rule.holds:
                    # The stored latest value is what a threshold or band
                    # classifies; a rate rule classifies a change over its
                    # window, a duration rule must see the condition last
                    # (its run starts again with the next readings), and a
                    # no-data rule is the silence sweep's.
                    continue
                warning = open_warnings.get((sensor_id, rule.pk))
                if warning is not None and warning.last_observed_at > observed_at:
                    continue  # a newer reading moved it already
                # A change is saved by the transition it records; no change, nothing to save.
                _warning, changed = series.apply_reading(sensors[sensor_id], rule, warning, observed_at, value)
                if changed:
                    touched.add(sensor_id)
                    written += changed
        for sensor_id in sorted(touched):
            transitions.sensor_level_refresh(sensor_id)
    return written


def warnings_flapping_clear(*, now: datetime | None = None) -> int:
    """Clear the flapping mark of warnings that went quiet; returns how many."""
    cleared = 0
    for warning_id in flapping.flapping_quiet_ids(now=now):
        if Warning.objects.filter(pk=warning_id, is_flapping=True).update(is_flapping=False, flapping_since=None):
            cleared += 1
            pushes.push_warning(warning_id=warning_id)
    return cleared
