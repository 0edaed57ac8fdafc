"""Backtest: what a threshold rule of any kind would have raised over the stored readings.

An administrator changing a rule sees, before saving it, the warnings the
changed rule would have raised over the last days, beside what the rule as
saved raises over the same readings. Both runs replay the readings with
pandas and numpy, vectorised over every sensor at once: at one reading a
minute, 100 sensors over 7 days is a million readings (``make
bench-backtest`` measures each kind).

The replay follows the live evaluation (``warning.series.apply_reading``):
- a warning opens at the first reading that reaches Level III or worse;
- it escalates when a reading reaches a more severe level;
- it recovers at the first reading past the dead band; a reading inside the
  dead band changes nothing.

Each kind adds to that what ``warning.rule_kinds`` adds live:
- a band (direction "outside") is replayed on both of its sides;
- a duration (``hold_seconds`` or ``hold_readings``) keeps a run per level
  (``rule_kinds.hold_advance``): a level opens or escalates the warning
  only once an unbroken run of readings at it or worse has lasted; a normal
  reading, or one in the dead band, ends every run;
- a rate of change classifies each reading's change over its window, from
  the lowest (a rise) or highest (a fall) reading observed in the
  ``rate_window_seconds`` up to it, both ends included, as a percentage of
  that reading when the rule says so (0 when it is 0), as the SQL of
  evaluation computes it. A window holds the readings received by the time
  its reading was (its batch included), as evaluation saw them: a late
  reading counts in the windows of the readings received after it, not of
  those received before. Readings from before the backtest's window are
  read for the windows of its first readings;
- a no-data rule opens a warning at its level once a sensor has been silent
  for longer than ``no_data_seconds``, between two stored readings or from
  the last one to the end of the window, at the moment the silence crossed
  the limit; the next reading recovers it. A silence that began before the
  window and had crossed the limit by its start opens at the start.

Readings are replayed in the order they were observed, as if each had
arrived on time (rate windows aside): a late reading takes its place among
the others, in a duration's runs and between a silence's readings too,
while the live evaluation takes it apart (it joins the warning of its time
or is recorded as history, never extends or ends a run, and recovers no
silence it arrived after). Each sensor starts the window with no warning in
force and no run in progress. A recovered warning that fires again counts as a new
warning here; the live platform reopens the recovered warning instead,
until a duty officer closes it. Not replayed: maintenance windows (they
open nothing live), the no-data sweep's cadence (it runs every minute, so a
silence less than a minute longer than the limit may pass unseen live), and
the folding of a silent gateway's sensors into one gateway outage.
"""

import io
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import ngettext
from pandas.api.indexers import BaseIndexer

from citysafety.errors import InvalidInputError, TooLargeError
from monitoring.models import Sensor
from warning.evaluation import compared_direction
from warning.models import Direction, RuleKind, ThresholdRule, Warning
from warning.rule_kinds import RATE_MODES, rule_errors

LEVELS = (1, 2, 3)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROS = 1_000_000


@dataclass(frozen=True)
class RaisedWarning:
    """One warning a replay raised: from its opening to its recovery."""

    sensor_id: int
    opened_at: datetime
    recovered_at: datetime | None  # None: still in force at the end of the window
    peak_level: int
    # The reading (a rate rule: the change) furthest past the thresholds; a
    # no-data warning's is the last value heard before the silence.
    peak_value: float
    # When each level was first reached, the opening level included.
    reached_at: dict[int, datetime] = field(default_factory=dict)
    # A no-data warning: the last reading before the silence.
    silent_since: datetime | None = None

    def overlaps(self, other: "RaisedWarning") -> bool:
        if self.sensor_id != other.sensor_id:
            return False
        end = self.recovered_at or datetime.max.replace(tzinfo=UTC)
        other_end = other.recovered_at or datetime.max.replace(tzinfo=UTC)
        return self.opened_at <= other_end and other.opened_at <= end


@dataclass
class Replay:
    warnings: list[RaisedWarning]

    def count_by_peak_level(self) -> dict[int, int]:
        counts = dict.fromkeys(LEVELS, 0)
        for warning in self.warnings:
            counts[warning.peak_level] += 1
        return counts


@dataclass(frozen=True)
class Readings:
    """The readings a backtest replays: ``frame`` has columns ``sensor``
    (int64), ``at`` (int64 microseconds since the epoch) and ``value``,
    ordered by sensor and observation time. Rows before ``since`` are only
    what came before the window: the readings a rate window reaches back to,
    and each sensor's last reading before those (where a silence began)."""

    frame: pd.DataFrame
    since: datetime
    until: datetime
    # Sensors switched off: the no-data sweep warns of none of them.
    inactive: frozenset[int] = frozenset()

    @property
    def count(self) -> int:
        """The readings within the window."""
        return int((self.frame["at"].to_numpy() >= _micros(self.since)).sum())


@dataclass
class Backtest:
    since: datetime
    until: datetime
    sensors: dict[int, str]  # id -> code, the sensors the rule applies to
    readings: int
    proposed: Replay
    current: Replay | None  # None for a rule not saved yet, or one whose settings contradict each other
    recorded: int | None  # warnings the saved rule actually opened in the window
    seconds: float

    @property
    def only_proposed(self) -> list[RaisedWarning]:
        """Warnings the changed rule raises where the saved rule raised none at that time."""
        if self.current is None:
            return list(self.proposed.warnings)
        return _not_overlapping(self.proposed.warnings, self.current.warnings)

    @property
    def only_current(self) -> list[RaisedWarning]:
        """Warnings the saved rule raised that the changed rule would not."""
        if self.current is None:
            return []
        return _not_overlapping(self.current.warnings, self.proposed.warnings)


def rule_backtest(*, proposed: ThresholdRule, current: ThresholdRule | None, days: int) -> Backtest:
    """Replay ``proposed`` (an unsaved rule) and ``current`` (the rule as
    saved, if any) over the last ``days`` of readings of the sensors
    ``proposed`` applies to. A proposed rule whose settings contradict each
    other is refused (InvalidInputError, on the field to change: the replay
    would not know what it means); a saved one is left out of the comparison."""
    if errors := rule_errors(proposed):
        name, message = next(iter(errors.items()))
        raise InvalidInputError(message, field=name)
    if current is not None and rule_errors(current):
        current = None
    if not 1 <= days <= settings.BACKTEST_MAX_DAYS:
        raise InvalidInputError(
            ngettext(
                "Choose between 1 and %(most)d day to backtest.",
                "Choose between 1 and %(most)d days to backtest.",
                settings.BACKTEST_MAX_DAYS,
            )
            % {"most": settings.BACKTEST_MAX_DAYS},
            field="days",
        )
    started = time.perf_counter()
    until = timezone.now()
    since = until - timedelta(days=days)
    sensors = sensors_ruled_by(proposed)
    rules = [proposed] if current is None else [proposed, current]
    # A rate window of the window's first readings reaches back before it.
    rates = [rule.rate_window_seconds for rule in rules if rule.kind == RuleKind.RATE]
    readings = readings_in_window(
        list(sensors), since=since, until=until, lookback_seconds=max(rates, default=0), received=bool(rates)
    )
    proposed_replay = replay(proposed, readings)
    current_replay = replay(current, readings) if current is not None else None
    recorded = (
        Warning.objects.filter(rule=current, opened_at__gte=since, opened_at__lt=until).count()
        if current is not None
        else None
    )
    return Backtest(
        since=since,
        until=until,
        sensors=sensors,
        readings=readings.count,
        proposed=proposed_replay,
        current=current_replay,
        recorded=recorded,
        seconds=time.perf_counter() - started,
    )


def sensors_ruled_by(rule: ThresholdRule) -> dict[int, str]:
    """The sensors a rule would apply to: its sensor, or every sensor of its
    type that has no rule of its own (a sensor's own rules override its type's)."""
    if rule.sensor_id is not None:
        return dict(Sensor.objects.filter(pk=rule.sensor_id).values_list("pk", "code"))
    overridden = ThresholdRule.objects.filter(is_active=True, sensor__isnull=False).values("sensor_id")
    return dict(
        Sensor.objects.filter(sensor_type_id=rule.sensor_type_id)
        .exclude(pk__in=overridden)
        .order_by("pk")
        .values_list("pk", "code")
    )


# The readings of the window, then the last reading before it of each
# sensor (by the index on (sensor, observed_at)). date_part gives a double;
# extract() would give a numeric, slower to print and parse. Unsorted:
# sorting a million rows in the database spills to disk, numpy sorts them in
# memory in a fraction of that.
_COPY_TEMPLATE = """
    COPY (
        SELECT sensor_id, date_part('epoch', observed_at), value{also} FROM monitoring_reading
        WHERE sensor_id = ANY(%s) AND observed_at >= %s AND observed_at < %s
        UNION ALL
        SELECT s.id, date_part('epoch', r.observed_at), r.value{also_r}
        FROM unnest(%s::bigint[]) AS s (id) CROSS JOIN LATERAL (
            SELECT observed_at, value, received_at FROM monitoring_reading
            WHERE sensor_id = s.id AND observed_at < %s ORDER BY observed_at DESC LIMIT 1
        ) AS r
    ) TO STDOUT WITH (FORMAT csv)
"""
_COPY = _COPY_TEMPLATE.format(also="", also_r="")
# With when each reading was received, for rate windows.
_COPY_RECEIVED = _COPY_TEMPLATE.format(
    also=", date_part('epoch', received_at)", also_r=", date_part('epoch', r.received_at)"
)


def readings_in_window(
    sensor_ids: list[int], *, since: datetime, until: datetime, lookback_seconds: int = 0, received: bool = False
) -> Readings:
    """The sensors' readings from ``lookback_seconds`` before ``since`` to
    ``until``, and each sensor's last reading before those (see ``Readings``);
    with ``received``, when each was received too (a column ``received``,
    microseconds since the epoch), for rate windows.

    Read with COPY into pandas' CSV parser, with no Python object per row.
    """
    columns = ["sensor", "at", "value", *(["received"] if received else [])]
    frame = pd.DataFrame({name: np.array([], dtype="float64" if name == "value" else "int64") for name in columns})
    inactive = frozenset(Sensor.objects.filter(pk__in=sensor_ids, is_active=False).values_list("pk", flat=True))
    empty = Readings(frame=frame, since=since, until=until, inactive=inactive)
    if not sensor_ids:
        return empty
    read_from = since - timedelta(seconds=lookback_seconds)
    window = [sensor_ids, read_from, until]
    with connection.cursor() as cursor:
        # The planner's estimate, not a count: counting would read the rows twice.
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM monitoring_reading"
            " WHERE sensor_id = ANY(%s) AND observed_at >= %s AND observed_at < %s",
            window,
        )
        estimate = int(cursor.fetchone()[0][0]["Plan"]["Plan Rows"])
        if estimate > settings.BACKTEST_MAX_READINGS:
            raise TooLargeError(
                ngettext(
                    "The backtest would read about %(count)s reading, more than %(most)s: choose fewer days, "
                    "or a rule on fewer sensors.",
                    "The backtest would read about %(count)s readings, more than %(most)s: choose fewer days, "
                    "or a rule on fewer sensors.",
                    estimate,
                )
                % {"count": f"{estimate:,}", "most": f"{settings.BACKTEST_MAX_READINGS:,}"}
            )
        query = cursor.mogrify(
            _COPY_RECEIVED if received else _COPY,
            [*window, sensor_ids, read_from],
        )
        buffer = io.BytesIO()
        cursor.copy_expert(query.decode(), buffer)
    if not buffer.tell():
        return empty
    buffer.seek(0)
    read = pd.read_csv(
        buffer, names=columns, dtype={name: "int64" if name == "sensor" else "float64" for name in columns}
    )
    # Whole microseconds, as stored: a float of epoch seconds is a fraction
    # of a microsecond off, and windows and durations end exactly on them.
    for name in [name for name in ("at", "received") if name in columns]:
        read[name] = np.round(read[name].to_numpy() * MICROS).astype("int64")
    order = np.lexsort((read["at"].to_numpy(), read["sensor"].to_numpy()))
    return Readings(frame=read.take(order).reset_index(drop=True), since=since, until=until, inactive=inactive)


def replay(rule: ThresholdRule, readings: Readings) -> Replay:
    """The warnings ``rule`` (with consistent settings) raises over ``readings``."""
    frame = readings.frame
    if frame.empty:
        return Replay(warnings=[])
    sensors = frame["sensor"].to_numpy()
    times = frame["at"].to_numpy()
    values = frame["value"].to_numpy()
    if rule.kind == RuleKind.NO_DATA:
        return _replay_silences(rule, readings, sensors, times, values)
    if rule.kind == RuleKind.RATE:
        received = frame["received"].to_numpy() if "received" in frame else None
        values = changes(rule, sensors, times, values, received=received)
    within = times >= _micros(readings.since)
    if not within.all():
        sensors, times, values = sensors[within], times[within], values[within]
    if not len(values):
        return Replay(warnings=[])
    return _replay_values(rule, sensors, times, values)


def changes(
    rule: ThresholdRule,
    sensors: np.ndarray,
    times: np.ndarray,
    values: np.ndarray,
    *,
    received: np.ndarray | None = None,
) -> np.ndarray:
    """What a rate rule classifies: each reading's change over the readings
    observed in its window (``_NEW_READINGS`` in warning.services, to the
    same arithmetic), ``times`` in microseconds, ordered by sensor and time.

    With ``received`` (microseconds), a window holds only the readings
    received by the time the reading was: evaluation computed the change
    over the readings stored then, so a reading that arrived late counts in
    the windows of the readings received after it, not of those before it.
    Ingestion stores a batch at one time, so a batch sees all of itself.
    """
    count = len(values)
    window = rule.rate_window_seconds * MICROS
    first = np.empty(count, dtype="int64")
    starts = np.flatnonzero(_first_of_sensor(sensors))
    for begin, end in zip(starts.tolist(), [*starts[1:].tolist(), count], strict=True):
        own = times[begin:end]
        first[begin:end] = begin + np.searchsorted(own, own - window, side="left")
    # A window per reading, from the first reading in it to the reading itself:
    # pandas' rolling min and max over variable windows, in one pass.
    rolling = pd.Series(values).rolling(_Windows(start=first, end=np.arange(1, count + 1, dtype="int64")))
    rises = RATE_MODES[(rule.direction, rule.rate_in_percent)].startswith("rise")
    base = (rolling.min() if rises else rolling.max()).to_numpy()
    if received is not None:
        # Rare: windows holding a reading received after theirs. Those few
        # are computed again, one by one, without the readings received later.
        latest = pd.Series(received).rolling(_Windows(start=first, end=np.arange(1, count + 1))).max().to_numpy()
        for row in np.flatnonzero(latest > received).tolist():
            own = slice(first[row], row + 1)
            heard = values[own][received[own] <= received[row]]
            base[row] = heard.min() if rises else heard.max()
    change = values - base if rises else base - values
    if not rule.rate_in_percent:
        return change
    size = np.abs(base)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(size == 0, 0.0, change / size * 100)


class _Windows(BaseIndexer):
    """Windows given as arrays of first (inclusive) and last (exclusive) rows."""

    def get_window_bounds(self, num_values=0, min_periods=None, center=None, closed=None, step=None):
        return self.start, self.end


def _replay_values(rule: ThresholdRule, sensors: np.ndarray, times: np.ndarray, values: np.ndarray) -> Replay:
    """A rule that classifies values (a reading, or a rate rule's change),
    over readings ordered by sensor and time, all within the window."""
    thresholds = rule.thresholds()
    direction = compared_direction(rule)
    band = direction == Direction.OUTSIDE
    above = direction == Direction.ABOVE
    lowers = rule.lower_thresholds()

    def reaches(level: int) -> np.ndarray:
        if band:
            return (values >= thresholds[level]) | (values <= lowers[level])
        return values >= thresholds[level] if above else values <= thresholds[level]

    # classify(in_warning=False): the level each value reaches, 0 for none.
    reached = np.select([reaches(1), reaches(2), reaches(3)], [1, 2, 3], default=0)
    if band:
        recovered = (values < thresholds[3] - rule.dead_band) & (values > lowers[3] + rule.dead_band)
    else:
        recovery = thresholds[3] - rule.dead_band if above else thresholds[3] + rule.dead_band
        recovered = values < recovery if above else values > recovery
    first_of_sensor = _first_of_sensor(sensors)
    # The level that opens or escalates: a duration rule's only once it lasted.
    level = _lasted(rule, reached, first_of_sensor, times) if rule.holds else reached
    # In force from a reading that opens until one past the dead band;
    # readings in the dead band, and a duration rule's readings that have
    # not lasted yet, keep what was before. Each sensor starts with none in
    # force, so carrying the last mark forward never crosses from one
    # sensor to the next.
    marks = np.where(level > 0, 1, np.where(recovered, 0, -1))
    marks[first_of_sensor & (marks < 0)] = 0
    last_marked = np.maximum.accumulate(np.where(marks >= 0, np.arange(len(marks)), 0))
    in_force = marks[last_marked] == 1
    before = np.roll(in_force, 1)
    before[first_of_sensor] = False
    opens = in_force & ~before
    if not opens.any():
        return Replay(warnings=[])
    episode = np.cumsum(opens)
    rows = pd.DataFrame(
        {
            "episode": episode[in_force],
            "sensor": sensors[in_force],
            "at": times[in_force],
            "level": level[in_force],
            "reached": reached[in_force],
            "value": values[in_force],
            "row": np.flatnonzero(in_force),
        }
    )
    grouped = rows.groupby("episode", sort=True)
    summary = grouped.agg(sensor=("sensor", "first"), opened=("at", "first"), last_row=("row", "max"))
    opening = rows[rows["level"] > 0]
    summary["peak_level"] = opening.groupby("episode")["level"].min()
    # The peak value is over every reading in warning while it is in force
    # (as the live warning's), those of a run not lasted yet included.
    warning_values = rows[rows["reached"] > 0]
    if band:
        # The peak of a band's warning is the value furthest from its middle.
        severity = (warning_values["value"] - (thresholds[3] + lowers[3]) / 2).abs()
    else:
        severity = warning_values["value"] if above else -warning_values["value"]
    peak_rows = severity.groupby(warning_values["episode"]).idxmax()
    summary["peak_value"] = warning_values.loc[peak_rows.to_numpy(), "value"].to_numpy()
    for at_level in LEVELS:
        hits = opening[opening["level"] <= at_level]
        summary[f"reached_{at_level}"] = hits.groupby("episode")["at"].min()
    # The recovery is the reading right after the warning's last one, when it
    # belongs to the same sensor; otherwise the window ended first.
    following = summary["last_row"].to_numpy() + 1
    has_next = following < len(values)
    same_sensor = np.zeros(len(following), dtype=bool)
    same_sensor[has_next] = sensors[following[has_next]] == summary["sensor"].to_numpy()[has_next]
    recovered_at = np.full(len(following), -1, dtype="int64")
    recovered_at[same_sensor] = times[following[same_sensor]]
    summary["recovered"] = recovered_at

    reached_at = {at_level: _moments(summary[f"reached_{at_level}"].to_numpy()) for at_level in LEVELS}
    warnings = [
        RaisedWarning(
            sensor_id=sensor_id,
            opened_at=opened_at,
            recovered_at=recovered_at,
            peak_level=peak_level,
            peak_value=peak_value,
            reached_at={at: reached_at[at][i] for at in LEVELS if reached_at[at][i] is not None},
        )
        for i, (sensor_id, opened_at, recovered_at, peak_level, peak_value) in enumerate(
            zip(
                summary["sensor"].tolist(),
                _moments(summary["opened"].to_numpy()),
                _moments(summary["recovered"].to_numpy()),
                summary["peak_level"].astype(int).tolist(),
                summary["peak_value"].tolist(),
                strict=True,
            )
        )
    ]
    return Replay(warnings=warnings)


def _lasted(rule: ThresholdRule, reached: np.ndarray, first_of_sensor: np.ndarray, times: np.ndarray) -> np.ndarray:
    """A duration rule's level at each reading: the most severe level whose
    run has lasted (``rule_kinds.hold_advance``), 0 for none.

    The run of a level is the unbroken series of readings at that level or
    worse (a Level II reading continues the runs of Levels II and III); any
    other reading ends it, whatever the warning's state, so the runs can be
    found before the warning's course is.
    """
    lasted = np.zeros(len(reached), dtype="int64")
    rows = np.arange(len(reached))
    for level in (3, 2, 1):  # the most severe that lasted wins
        at_level = (reached > 0) & (reached <= level)
        previous = np.roll(at_level, 1)
        previous[first_of_sensor] = False
        begins = at_level & ~previous
        if not begins.any():
            continue
        run_start = np.flatnonzero(begins)[np.maximum(np.cumsum(begins) - 1, 0)]
        if rule.hold_readings:
            long_enough = rows - run_start + 1 >= rule.hold_readings
        else:
            long_enough = times - times[run_start] >= rule.hold_seconds * MICROS
        lasted[at_level & long_enough] = level
    return lasted


def _replay_silences(
    rule: ThresholdRule, readings: Readings, sensors: np.ndarray, times: np.ndarray, values: np.ndarray
) -> Replay:
    """A no-data rule: the silences longer than it allows, between two
    readings or from the last one to the end of the window (as the sweep of
    ``warning.no_data`` finds them, and evaluation recovers them)."""
    since, until = _micros(readings.since), _micros(readings.until)
    limit = rule.no_data_seconds * MICROS
    last_of_sensor = np.ones(len(times), dtype=bool)
    last_of_sensor[:-1] = sensors[:-1] != sensors[1:]
    heard_next = np.empty(len(times), dtype="int64")
    heard_next[:-1] = times[1:]
    heard_next[last_of_sensor] = until
    # Silent strictly longer than allowed, as the sweep compares; a silence
    # over before the window began is not replayed.
    silent = (heard_next - times > limit) & (heard_next > since)
    if readings.inactive:
        silent &= ~np.isin(sensors, list(readings.inactive))
    rows = np.flatnonzero(silent)
    opened = _moments(np.maximum(times[rows] + limit, since))
    recovered = _moments(np.where(last_of_sensor[rows], -1, heard_next[rows]))
    heard = _moments(times[rows])
    level = rule.no_data_level
    return Replay(
        warnings=[
            RaisedWarning(
                sensor_id=sensor_id,
                opened_at=opened_at,
                recovered_at=recovered_at,
                peak_level=level,
                peak_value=value,
                reached_at={level: opened_at},
                silent_since=silent_since,
            )
            for sensor_id, opened_at, recovered_at, value, silent_since in zip(
                sensors[rows].tolist(), opened, recovered, values[rows].tolist(), heard, strict=True
            )
        ]
    )


def _first_of_sensor(sensors: np.ndarray) -> np.ndarray:
    first = np.ones(len(sensors), dtype=bool)
    first[1:] = sensors[1:] != sensors[:-1]
    return first


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _moments(micros: np.ndarray) -> list[datetime | None]:
    """Microseconds since the epoch as times; NaN or negative: None."""
    known = ~np.isnan(micros) & (micros >= 0) if micros.dtype.kind == "f" else micros >= 0
    whole = np.where(known, micros, 0).astype("int64")
    return [
        EPOCH + timedelta(microseconds=us) if is_known else None
        for us, is_known in zip(whole.tolist(), known.tolist(), strict=True)
    ]


def _not_overlapping(these: list[RaisedWarning], those: list[RaisedWarning]) -> list[RaisedWarning]:
    by_sensor: dict[int, list[RaisedWarning]] = {}
    for warning in those:
        by_sensor.setdefault(warning.sensor_id, []).append(warning)
    return [w for w in these if not any(w.overlaps(other) for other in by_sensor.get(w.sensor_id, ()))]
