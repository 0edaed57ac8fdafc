"""Every write of the warning app: evaluation of readings and warning state.

A warning's level and status change here and nowhere else.
"""

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from citysafety import after_commit, realtime
from citysafety.errors import ConflictError, InvalidInputError, NotFoundError
from monitoring.models import Reading, Sensor
from monitoring.services import array_literal
from warning import evaluation_queue, flapping, history, incidents, rule_kinds, selectors, silences
from warning.evaluation import HOLD, NORMAL, classify, worse
from warning.events import warning_changed
from warning.models import RuleKind, ThresholdRule, TransitionKind, Warning, WarningStatus, WarningTransition

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
    transitions = 0
    for start in range(0, len(ids), CHUNK_SIZE):
        transitions += _evaluate_chunk(ids[start : start + CHUNK_SIZE])
    return transitions


def sensors_drain(*, budget_seconds: float = DRAIN_SECONDS) -> int:
    """Evaluate the sensors waiting in the queue until none waits; returns how many.

    Most severe first: each chunk is taken from the front of the queue
    (ranked by level when the readings were stored), so a Level I reading
    stored during a long drain is in the next chunk, not after the backlog.
    Two drains take chunks side by side. A chunk that fails stays marked
    in the database for the sweep, so a sensor that fails every time cannot
    hold up the others.
    """
    deadline = time.monotonic() + budget_seconds
    evaluated = 0
    while True:
        chunk = evaluation_queue.sensors_take(CHUNK_SIZE)
        if not chunk:
            return evaluated
        _evaluate_chunk(sorted(chunk))
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


def _evaluate_chunk(sensor_ids: list[int]) -> int:
    """Evaluate the new readings of these sensors (sorted ids) in one transaction."""
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
        transitions = _evaluate_series(cursor, slow, rules, floor, pending) if slow else 0
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
    return transitions


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
    series: dict[int, list[tuple[int, datetime, float]]] = {}
    for n, reading_id, observed_at, value in cursor.fetchall():
        series.setdefault(n, []).append((reading_id, observed_at, value))
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
    earliest = min((rows[0][1] for rows in series.values()), default=None)
    windows = silences.silence_windows(sensor_ids, since=earliest, until=timezone.now()) if earliest is not None else {}
    open_warnings = {
        (w.sensor_id, w.rule_id): w
        for w in Warning.objects.select_for_update()
        .filter(sensor_id__in=sensor_ids)
        .exclude(status=WarningStatus.CLOSED)
    }
    progress = rule_kinds_progress_load(cursor, states, rules)
    transitions = 0
    touched_sensors = set()
    now = timezone.now()
    for n, state in enumerate(states):
        readings = series.get(n)
        if not readings:
            continue
        warning = open_warnings.get((state.sensor_id, state.rule_id))
        rule = rules[state.rule_id]
        window = windows.get(state.sensor_id)
        warning, changed = _apply_series(
            sensors[state.sensor_id],
            rule,
            warning,
            readings,
            newest_at=state.evaluated_through,
            now=now,
            progress=progress.get(state.pk),
            silenced={reading_id for reading_id, at, _ in readings if silences.covers(window, at)},
        )
        newest_at = readings[-1][1]
        if state.evaluated_through is None or newest_at > state.evaluated_through:
            state.evaluated_through = newest_at
        if warning is not None:
            warning.save(
                update_fields=["level", "status", "last_value", "peak_value", "last_observed_at", "recovered_at"]
            )
            if not changed:
                warning_value_changed(warning_id=warning.pk)
        if changed:
            touched_sensors.add(state.sensor_id)
            transitions += changed
        state.last_reading_id = max(reading_id for reading_id, _, _ in readings)
    for sensor_id in sorted(touched_sensors):
        _refresh_sensor_level(sensor_id)
    rule_kinds_progress_save(cursor, progress)
    return transitions


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


def _apply_reading(
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
            warning.status = WarningStatus.RECOVERED
            warning.recovered_at = observed_at
            _record(warning, TransitionKind.RECOVERED, warning.level, warning.level, value, observed_at)
            return warning, 1
        return warning, 0

    if warning is None:
        return _open(sensor, rule, level, observed_at, value), 1
    if warning.status == WarningStatus.RECOVERED and _beyond_reactivation_window(warning, observed_at):
        _close_superseded(warning, observed_at)
        return _open(sensor, rule, level, observed_at, value), 2
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


def _apply_silenced_reading(
    rule: ThresholdRule,
    warning: Warning | None,
    observed_at: datetime,
    value: float,
) -> tuple[Warning | None, int]:
    """A reading newer than any evaluated, in a maintenance window (see ``_apply_reading``)."""
    if warning is None:
        return None, 0
    warning.peak_value = worse(rule, warning.peak_value, value)
    warning.last_value = value
    warning.last_observed_at = observed_at
    if warning.status == WarningStatus.ACTIVE and classify(rule, value, in_warning=True) == NORMAL:
        warning.status = WarningStatus.RECOVERED
        warning.recovered_at = observed_at
        _record(warning, TransitionKind.RECOVERED, warning.level, warning.level, value, observed_at)
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


def _close_superseded(warning: Warning, observed_at: datetime) -> None:
    """Close a recovered warning that a new one replaces; its work orders stay with it."""
    note = _("Recovered for longer than the reactivation window; the condition came back as a new warning.")
    warning.status = WarningStatus.CLOSED
    warning.closed_at = timezone.now()
    warning.disposal_note = note
    _record(warning, TransitionKind.CLOSED, warning.level, warning.level, None, observed_at, note=note)
    incidents.incident_member_closed(warning)


def _apply_series(
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
    taken apart (``_apply_late_readings``; a duration or rate rule's in
    ``_apply_rule_kind_series``). Of the others, an episode that began and
    ended more than WARNING_HISTORICAL_AFTER_MINUTES ago (a gateway back
    after days offline, an archive posted in order) is recorded as history;
    the rest move the live warning reading by reading (``_apply_fresh``).

    ``silenced``: the ids of readings in a maintenance window. Newer than
    any evaluated, they move the live warning as ``_apply_reading`` says;
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
        warning, changed = _apply_late_readings(sensor, rule, warning, late)
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
    """Readings newer than any evaluated (see ``_apply_series``), cut into
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
            changed += _record_historical(sensor, rule, episode)
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
        warning, step = _apply_reading(
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
    """A duration, rate-of-change or no-data rule's new readings (see ``_apply_series``).

    Durations and rates take the path of thresholds, each replayed with its
    own semantics (``history.episodes``): a rate rule's values are already
    the change over its window at each reading's time, computed from the
    stored readings; a duration rule's fresh readings go on from the runs
    in its state row, its late ones must hold within themselves
    (``_apply_late_rule_kind``). A no-data rule is swept, not fed readings:
    a reading only recovers its open warning.
    """
    fresh = readings[fresh_from:]
    changed = 0
    if rule.kind == RuleKind.NO_DATA:
        for reading_id, observed_at, value in fresh:
            warning, step = _apply_reading(sensor, rule, warning, observed_at, value, silenced=reading_id in silenced)
            changed += step
        return warning, changed
    late = [point for point in readings[:fresh_from] if point[0] not in silenced]
    if late:
        changed += _apply_late_rule_kind(sensor, rule, warning, late)
    if fresh:
        warning, step = _apply_fresh(sensor, rule, warning, fresh, now=now, progress=progress, silenced=silenced)
        changed += step
    return warning, changed


def _apply_late_rule_kind(
    sensor: Sensor, rule: ThresholdRule, warning: Warning | None, late: list[history.Point]
) -> int:
    """A duration or rate rule's readings no newer than what was already
    evaluated (in order of observation); returns the transitions written.

    A late change of a rate rule within the open warning's span may raise
    its level at its own time, as a threshold's reading would. A duration
    rule's late readings cannot say how long the open warning's condition
    held now, so they leave it alone, and its runs too: the live runs are
    not theirs. The others are cut into episodes, a duration held within
    the late readings alone, and each that ended is recorded as history.
    Those within a closed warning's span belong to that event: a rate
    rule's join it as a threshold's do (``_join_historical``), a duration
    rule's are left out, one reading telling nothing of how long it held.
    An episode still in warning at its last late reading ends at the next
    stored reading when that one is normal (a duration rule's value is the
    reading's own); a rate's is a change over readings not at hand, so it
    is left.
    """
    opened_at = warning.opened_at if warning is not None else None
    ended_at = warning.recovered_at if warning is not None else None
    before = [p for p in late if opened_at is None or p[1] < opened_at]
    within = [p for p in late if opened_at is not None and p[1] >= opened_at and (ended_at is None or p[1] < ended_at)]
    after = [p for p in late if ended_at is not None and p[1] >= ended_at]
    changed = 0
    if not rule.holds:
        changed += sum(_join_late(rule, warning, at, value) for _id, at, value in within)
    groups = [before, after]
    if any(classify(rule, value, in_warning=False) > 0 for _id, _at, value in before + after):
        # Only a value in warning can belong to a closed warning's episode
        # or start one: late normal readings cost no query.
        if rule.holds:
            groups = _outside_closed(sensor, rule, groups)
        else:
            *groups, joined = _join_historical(sensor, rule, before, after)
            changed += joined
    for group in groups:
        for episode in history.episodes(rule, group):
            if not episode.ended and rule.kind == RuleKind.THRESHOLD:
                _end_at_following(sensor, rule, episode)
            if episode.ended:
                changed += _record_historical(sensor, rule, episode)
    return changed


def _outside_closed(
    sensor: Sensor, rule: ThresholdRule, groups: list[list[history.Point]]
) -> list[list[history.Point]]:
    """``groups`` without the readings within a closed warning's span, each
    cut where one was taken out: a run does not go on across an event."""
    points = [point for group in groups for point in group]
    past = list(_closed_spanning(sensor, rule, points).only("opened_at", "recovered_at", "last_observed_at"))
    if not past:
        return groups
    left: list[list[history.Point]] = []
    for group in groups:
        kept: list[history.Point] = []
        for point in group:
            if any(_within(warning, point[1]) for warning in past):
                if kept:
                    left.append(kept)
                kept = []
            else:
                kept.append(point)
        if kept:
            left.append(kept)
    return left


def _end_at_following(sensor: Sensor, rule: ThresholdRule, episode: history.Episode) -> bool:
    """End an episode still in warning at its last late reading at the next
    stored reading, when that one is normal; False when no reading follows."""
    following = (
        Reading.objects.filter(sensor_id=sensor.pk, observed_at__gt=episode.last_observed_at)
        .order_by("observed_at")
        .values_list("observed_at", "value")
        .first()
    )
    if following is not None and classify(rule, following[1], in_warning=True) == NORMAL:
        at, value = following
        episode.steps.append(history.Step(TransitionKind.RECOVERED, episode.level, episode.level, value, at))
        episode.ended = True
        episode.last_value, episode.last_observed_at = value, at
    return following is not None


def _apply_late_readings(
    sensor: Sensor, rule: ThresholdRule, warning: Warning | None, late: list[history.Point]
) -> tuple[Warning | None, int]:
    """Readings no newer than what was already evaluated (in order of observation).

    Those within the open warning's span belong to it: they may raise its
    level (at their own time), never recover it, and leave its latest value
    alone; those within a closed warning's span belong to that one alike.
    The others are cut into episodes, each recorded as history: an episode
    still in warning at its last late reading ends at the next reading
    evaluated before if that one was normal; if it was not, the episode ran
    on into the open warning, which is then found to have begun earlier.
    """
    opened_at = warning.opened_at if warning is not None else None
    ended_at = warning.recovered_at if warning is not None else None
    before = [p for p in late if opened_at is None or p[1] < opened_at]
    within = [p for p in late if opened_at is not None and p[1] >= opened_at and (ended_at is None or p[1] < ended_at)]
    after = [p for p in late if ended_at is not None and p[1] >= ended_at]
    changed = sum(_join_late(rule, warning, observed_at, value) for _id, observed_at, value in within)
    if any(classify(rule, value, in_warning=False) > 0 for _id, _at, value in before + after):
        # Only a value in warning can belong to a closed warning's episode
        # or start one: late normal readings cost no query.
        before, after, joined = _join_historical(sensor, rule, before, after)
        changed += joined
    for group, runs_into_warning in ((before, warning is not None), (after, False)):
        for episode in history.episodes(rule, group):
            if not episode.ended:
                followed = _end_at_following(sensor, rule, episode)
                if not episode.ended and followed and runs_into_warning:
                    # Still in warning at the next reading evaluated before: the episode ran on into the open warning.
                    changed += _warning_began_earlier(rule, warning, group[episode.first :])
                    continue
            changed += _record_historical(sensor, rule, episode)
    return warning, changed


def _join_historical(sensor: Sensor, rule: ThresholdRule, *groups: list[history.Point]) -> tuple:
    """Take out of ``groups`` the late readings within a closed warning's
    span (historical or closed by a person: from its opening to its
    recovery, or to its last reading if it never recovered), raising its
    peak and level at their time, silently: it is closed; returns the
    groups left and the transitions written."""
    points = [point for group in groups for point in group]
    past = list(_closed_spanning(sensor, rule, points).select_for_update().order_by("opened_at"))
    if not past:
        return (*groups, 0)
    changed = 0
    touched = set()
    left: list[list[history.Point]] = []
    for group in groups:
        kept = []
        for point in group:
            _id, observed_at, value = point
            warning = next((w for w in past if _within(w, observed_at)), None)
            if warning is None:
                kept.append(point)
                continue
            touched.add(warning)
            warning.peak_value = worse(rule, warning.peak_value, value)
            level = classify(rule, value, in_warning=False)
            if 0 < level < warning.level:
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
                changed += 1
        left.append(kept)
    for warning in touched:
        warning.save(update_fields=["level", "peak_value"])
    return (*left, changed)


def _closed_spanning(sensor: Sensor, rule: ThresholdRule, points: list[history.Point]):
    """The closed warnings of (sensor, rule) whose span (from its opening to
    its recovery, or to its last reading if it never recovered) may hold one
    of ``points``."""
    earliest = min(at for _id, at, _value in points)
    return Warning.objects.filter(
        Q(recovered_at__gt=earliest) | Q(recovered_at__isnull=True, last_observed_at__gte=earliest),
        sensor_id=sensor.pk,
        rule_id=rule.pk,
        status=WarningStatus.CLOSED,
        opened_at__lte=max(at for _id, at, _value in points),
    )


def _within(warning: Warning, observed_at: datetime) -> bool:
    if warning.recovered_at is not None:
        return warning.opened_at <= observed_at < warning.recovered_at
    return warning.opened_at <= observed_at <= warning.last_observed_at


def _join_late(rule: ThresholdRule, warning: Warning, observed_at: datetime, value: float) -> int:
    """A late reading of the open warning's own span: its peak, and its level at the reading's time."""
    warning.peak_value = worse(rule, warning.peak_value, value)
    level = classify(rule, value, in_warning=False)
    if 0 < level < warning.level:
        return _escalate(warning, level, observed_at, value)
    return 0


def _warning_began_earlier(rule: ThresholdRule, warning: Warning, points: list[history.Point]) -> int:
    """Late readings in warning right before the open warning's first: it began with the first of them."""
    _id, observed_at, value = points[0]
    opened = warning.transitions.filter(kind=TransitionKind.OPENED).first()
    if opened is not None:
        opened.observed_at, opened.value = observed_at, value
        opened.save(update_fields=["observed_at", "value"])
    warning.opened_at, warning.first_value = observed_at, value
    warning.save(update_fields=["opened_at", "first_value"])
    return sum(_join_late(rule, warning, at, point_value) for _id, at, point_value in points)


def _record_historical(sensor: Sensor, rule: ThresholdRule, episode: history.Episode) -> int:
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
    incidents.warning_group(warning)
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
        warning_value_changed(warning_id=warning.pk)
    else:
        warnings_push_after_commit(warning_ids=[warning.pk])
    warning_changed.send(sender=Warning, warning=warning, transition=transition)
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
        incidents.incident_member_closed(warning)
        _refresh_sensor_level(warning.sensor_id)
    return warning


def push_warning(*, warning_id: int) -> None:
    """Send the warning as it now stands to the duty officers' screens."""
    push_warnings(warning_ids=[warning_id])


def push_warnings(*, warning_ids: list[int]) -> None:
    """Send the warnings as they now stand to the duty officers' screens (one query for all)."""
    realtime.send_many(
        ([realtime.DUTY_GROUP], "warning.changed", payload) for payload in selectors.warning_payloads(warning_ids)
    )


def warnings_push_after_commit(*, warning_ids: list[int]) -> None:
    """Push the warnings once the transaction commits: every warning a
    transaction changed goes out from one callback, read in one query."""
    after_commit.collect("warning.push", warning_ids, lambda ids: push_warnings(warning_ids=ids))


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
    transitions = 0
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
                _warning, changed = _apply_reading(sensors[sensor_id], rule, warning, observed_at, value)
                if changed:
                    touched.add(sensor_id)
                    transitions += changed
        for sensor_id in sorted(touched):
            _refresh_sensor_level(sensor_id)
    return transitions


def warnings_flapping_clear(*, now: datetime | None = None) -> int:
    """Clear the flapping mark of warnings that went quiet; returns how many."""
    cleared = 0
    for warning_id in flapping.flapping_quiet_ids(now=now):
        if Warning.objects.filter(pk=warning_id, is_flapping=True).update(is_flapping=False, flapping_since=None):
            cleared += 1
            push_warning(warning_id=warning_id)
    return cleared
