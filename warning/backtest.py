"""Backtest: what a threshold rule would have raised over the stored readings.

An administrator changing a rule sees, before saving it, the warnings the
changed rule would have raised over the last days, beside what the rule as
saved raises over the same readings. Both runs replay the readings with
pandas, vectorised over every sensor at once: at one reading a minute, 100
sensors over 7 days is a million readings (``make bench-backtest``
measures it).

The replay follows ``warning.evaluation.classify``:
- a warning opens at the first reading that reaches Level III or worse;
- it escalates when a reading reaches a more severe level;
- it recovers at the first reading past the dead band.

A band (direction "outside") is replayed on both of its sides. Rules of the
other kinds — a duration, a rate of change, no data — are not replayed:
``backtest_refusal`` says so, and the admin shows that message instead.

Readings are replayed in the order they were observed, and each sensor
starts the window with no warning in force. A recovered warning that fires
again counts as a new warning here. The live platform reopens the recovered
warning instead, until a duty officer closes it.
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
from django.utils.translation import gettext as _

from citysafety.errors import InvalidInputError, TooLargeError
from monitoring.models import Sensor
from warning.models import Direction, RuleKind, ThresholdRule, Warning

LEVELS = (1, 2, 3)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RaisedWarning:
    """One warning a replay raised: from its first reading past Level III to its recovery."""

    sensor_id: int
    opened_at: datetime
    recovered_at: datetime | None  # None: still in force at the end of the window
    peak_level: int
    peak_value: float
    # When each level was first reached, the opening level included.
    reached_at: dict[int, datetime] = field(default_factory=dict)

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


@dataclass
class Backtest:
    since: datetime
    until: datetime
    sensors: dict[int, str]  # id -> code, the sensors the rule applies to
    readings: int
    proposed: Replay
    current: Replay | None  # None for a rule not saved yet
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


def backtest_refusal(rule: ThresholdRule) -> str | None:
    """Why the backtest cannot replay this rule, or None when it can."""
    if rule.kind == RuleKind.RATE:
        return _("The backtest does not replay rate-of-change rules yet: it replays value thresholds only.")
    if rule.kind == RuleKind.NO_DATA:
        return _("The backtest does not replay no-data rules: it replays stored readings, not their absence.")
    if rule.holds:
        return _(
            "The backtest does not replay durations yet: clear “hold for” to see what the thresholds alone would raise."
        )
    return None


def rule_backtest(*, proposed: ThresholdRule, current: ThresholdRule | None, days: int) -> Backtest:
    """Replay ``proposed`` (an unsaved, validated rule) and ``current`` (the
    rule as saved, if any) over the last ``days`` of readings of the sensors
    ``proposed`` applies to. A saved rule the backtest cannot replay is left
    out of the comparison; a proposed one is refused (InvalidInputError)."""
    if (refusal := backtest_refusal(proposed)) is not None:
        raise InvalidInputError(refusal, field="kind")
    if current is not None and backtest_refusal(current) is not None:
        current = None
    if not 1 <= days <= settings.BACKTEST_MAX_DAYS:
        raise InvalidInputError(
            _("Choose between 1 and %(most)d days to backtest.") % {"most": settings.BACKTEST_MAX_DAYS},
            field="days",
        )
    started = time.perf_counter()
    until = timezone.now()
    since = until - timedelta(days=days)
    sensors = sensors_ruled_by(proposed)
    frame = readings_frame(list(sensors), since=since, until=until)
    proposed_replay = replay(proposed, frame)
    current_replay = replay(current, frame) if current is not None else None
    recorded = (
        Warning.objects.filter(rule=current, opened_at__gte=since, opened_at__lt=until).count()
        if current is not None
        else None
    )
    return Backtest(
        since=since,
        until=until,
        sensors=sensors,
        readings=len(frame),
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


def readings_frame(sensor_ids: list[int], *, since: datetime, until: datetime) -> pd.DataFrame:
    """The sensors' readings in the window, ordered by sensor and observation
    time: columns ``sensor`` (int64), ``at`` (epoch seconds) and ``value``.

    Read with COPY into pandas' CSV parser, with no Python object per row.
    """
    empty = pd.DataFrame({"sensor": np.array([], dtype="int64"), "at": [], "value": []})
    if not sensor_ids:
        return empty
    window = [sensor_ids, since, until]
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
                _(
                    "The backtest would read about %(count)s readings, more than %(most)s: choose fewer days, "
                    "or a rule on fewer sensors."
                )
                % {"count": f"{estimate:,}", "most": f"{settings.BACKTEST_MAX_READINGS:,}"}
            )
        # date_part gives a double; extract() would give a numeric, slower to
        # print and parse. Unsorted: sorting a million rows in the database
        # spills to disk, numpy sorts them in memory in a fraction of that.
        query = cursor.mogrify(
            "COPY (SELECT sensor_id, date_part('epoch', observed_at), value FROM monitoring_reading"
            " WHERE sensor_id = ANY(%s) AND observed_at >= %s AND observed_at < %s) TO STDOUT WITH (FORMAT csv)",
            window,
        )
        buffer = io.BytesIO()
        cursor.copy_expert(query.decode(), buffer)
    if not buffer.tell():
        return empty
    buffer.seek(0)
    frame = pd.read_csv(
        buffer, names=["sensor", "at", "value"], dtype={"sensor": "int64", "at": "float64", "value": "float64"}
    )
    order = np.lexsort((frame["at"].to_numpy(), frame["sensor"].to_numpy()))
    return frame.take(order).reset_index(drop=True)


def replay(rule: ThresholdRule, frame: pd.DataFrame) -> Replay:
    """The warnings ``rule`` raises over ``frame`` (see ``readings_frame``)."""
    if frame.empty:
        return Replay(warnings=[])
    values = frame["value"].to_numpy()
    sensors = frame["sensor"].to_numpy()
    times = frame["at"].to_numpy()
    thresholds = rule.thresholds()
    band = rule.direction == Direction.OUTSIDE
    above = rule.direction == Direction.ABOVE
    lowers = rule.lower_thresholds()

    def reaches(level: int) -> np.ndarray:
        if band:
            return (values >= thresholds[level]) | (values <= lowers[level])
        return values >= thresholds[level] if above else values <= thresholds[level]

    level = np.select([reaches(1), reaches(2), reaches(3)], [1, 2, 3], default=0)
    if band:
        recovered = (values < thresholds[3] - rule.dead_band) & (values > lowers[3] + rule.dead_band)
    else:
        recovery = thresholds[3] - rule.dead_band if above else thresholds[3] + rule.dead_band
        recovered = values < recovery if above else values > recovery
    first_of_sensor = np.ones(len(values), dtype=bool)
    first_of_sensor[1:] = sensors[1:] != sensors[:-1]
    # In force from a reading that reaches Level III until one past the dead
    # band; readings in the dead band keep what was before (hysteresis). Each
    # sensor starts with none in force, so carrying the last mark forward
    # never crosses from one sensor to the next.
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
            "value": values[in_force],
            "row": np.flatnonzero(in_force),
        }
    )
    grouped = rows.groupby("episode", sort=True)
    summary = grouped.agg(sensor=("sensor", "first"), opened=("at", "first"), last_row=("row", "max"))
    reaching = rows[rows["level"] > 0]
    summary["peak_level"] = reaching.groupby("episode")["level"].min()
    if band:
        # The peak of a band's warning is the value furthest from its middle.
        severity = (reaching["value"] - (thresholds[3] + lowers[3]) / 2).abs()
    else:
        severity = reaching["value"] if above else -reaching["value"]
    peak_rows = severity.groupby(reaching["episode"]).idxmax()
    summary["peak_value"] = reaching.loc[peak_rows.to_numpy(), "value"].to_numpy()
    for at_level in LEVELS:
        hits = reaching[reaching["level"] <= at_level]
        summary[f"reached_{at_level}"] = hits.groupby("episode")["at"].min()
    # The recovery is the reading right after the warning's last one, when it
    # belongs to the same sensor; otherwise the window ended first.
    following = summary["last_row"].to_numpy() + 1
    has_next = following < len(values)
    same_sensor = np.zeros(len(following), dtype=bool)
    same_sensor[has_next] = sensors[following[has_next]] == summary["sensor"].to_numpy()[has_next]
    recovered_at = np.full(len(following), np.nan)
    recovered_at[same_sensor] = times[following[same_sensor]]
    summary["recovered"] = recovered_at

    def moments(column: str) -> list[datetime | None]:
        # Whole microseconds first: a float of epoch seconds is a microsecond
        # off now and then, and the times must match the stored readings'.
        seconds = summary[column].to_numpy()
        known = ~np.isnan(seconds)
        micros = np.zeros(len(seconds), dtype="int64")
        micros[known] = np.round(seconds[known] * 1e6).astype("int64")
        return [
            EPOCH + timedelta(microseconds=us) if is_known else None
            for us, is_known in zip(micros.tolist(), known.tolist(), strict=True)
        ]

    reached = {at_level: moments(f"reached_{at_level}") for at_level in LEVELS}
    warnings = [
        RaisedWarning(
            sensor_id=sensor_id,
            opened_at=opened_at,
            recovered_at=recovered_at,
            peak_level=peak_level,
            peak_value=peak_value,
            reached_at={at_level: reached[at_level][i] for at_level in LEVELS if reached[at_level][i] is not None},
        )
        for i, (sensor_id, opened_at, recovered_at, peak_level, peak_value) in enumerate(
            zip(
                summary["sensor"].tolist(),
                moments("opened"),
                moments("recovered"),
                summary["peak_level"].astype(int).tolist(),
                summary["peak_value"].tolist(),
                strict=True,
            )
        )
    ]
    return Replay(warnings=warnings)


def _not_overlapping(these: list[RaisedWarning], those: list[RaisedWarning]) -> list[RaisedWarning]:
    by_sensor: dict[int, list[RaisedWarning]] = {}
    for warning in those:
        by_sensor.setdefault(warning.sensor_id, []).append(warning)
    return [w for w in these if not any(w.overlaps(other) for other in by_sensor.get(w.sensor_id, ()))]
