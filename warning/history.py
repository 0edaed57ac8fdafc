"""The episodes in a series of readings, and which of them are history: pure functions.

A reading that arrives after newer ones were evaluated (a gateway's buffer,
an archive import) tells what happened, not what is. Evaluated one by one
into the live warning it would stamp today's time on a recovery, put an
escalation after it, and send out work orders for an event that ended weeks
ago. Instead the readings of one (sensor, rule) are first cut into episodes
(in warning from the reading that reached a level to the one that fell back
past the dead band), and an episode that both began and ended in the past is
recorded as a historical warning of its own (``warning.services``), never
routed or pushed as a live alarm.

Each kind of rule is replayed with its own semantics: a rate of change is
classified on the change at each reading's time (the points carry it), and
a duration rule opens or escalates only once a run has lasted within the
points (``rule_kinds.hold_advance``), from the runs it is given.
"""

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from warning import rule_kinds
from warning.evaluation import HOLD, NORMAL, classify, worse
from warning.models import ThresholdRule, TransitionKind

# (reading id, observed at, value)
Point = tuple[int, datetime, float]


@dataclass(frozen=True)
class Step:
    """One transition an episode went through, at the time of the reading that caused it."""

    kind: str
    from_level: int | None
    to_level: int
    value: float | None
    observed_at: datetime


@dataclass
class Episode:
    """Readings ``first`` … ``last`` (indexes in the series) in warning, and how it went.

    ``ended``: the reading at ``last`` took it back to normal (its RECOVERED
    step is the last). ``continues``: it was already in force before the
    series began (the open warning's), so it is never history.
    ``held_since``: a duration rule's, when the run that opened it began
    (the readings from then on are the event's, though the warning opens
    only once the run has lasted).
    """

    first: int
    last: int
    level: int
    first_value: float
    peak_value: float
    last_value: float
    opened_at: datetime
    last_observed_at: datetime
    steps: list[Step] = field(default_factory=list)
    ended: bool = False
    continues: bool = False
    held_since: datetime | None = None

    @property
    def ended_at(self) -> datetime | None:
        return self.steps[-1].observed_at if self.ended else None


def episodes(
    rule: ThresholdRule,
    points: Sequence[Point],
    *,
    active_level: int | None = None,
    progress: dict | None = None,
) -> list[Episode]:
    """The episodes of ``points`` (in order of observation), evaluated from a normal state, or
    from a warning in force at ``active_level``, with the same hysteresis as live evaluation.

    A duration rule starts from the runs in ``progress`` (a state row's
    ``hold_progress``; none when omitted), which are left as they are.
    """
    runs = copy.deepcopy(progress) if progress else {}
    found: list[Episode] = []
    current: Episode | None = None
    if active_level is not None and points:
        _id, at, value = points[0]
        current = Episode(0, 0, active_level, value, value, value, at, at, continues=True)
    for index, (_id, at, value) in enumerate(points):
        level = classify(rule, value, in_warning=current is not None)
        if rule.holds:
            lasted = rule_kinds.hold_advance(rule, runs, level, at)
            if level > 0:
                # Not held long enough at any level: nothing opens or escalates yet.
                level = lasted or HOLD
        if current is None:
            if level > 0:
                current = Episode(index, index, level, value, value, value, at, at)
                current.steps.append(Step(TransitionKind.OPENED, None, level, value, at))
                if rule.holds:
                    # Every reading in warning goes on Level III's run: the longest.
                    current.held_since = datetime.fromisoformat(runs["3"]["since"])
            continue
        current.last, current.last_value, current.last_observed_at = index, value, at
        current.peak_value = worse(rule, current.peak_value, value)
        if level == HOLD:
            continue
        if level == NORMAL:
            current.steps.append(Step(TransitionKind.RECOVERED, current.level, current.level, value, at))
            current.ended = True
            found.append(current)
            current = None
        elif level < current.level:
            current.steps.append(Step(TransitionKind.ESCALATED, current.level, level, value, at))
            current.level = level
    if current is not None:
        found.append(current)
    return found


def is_history(episode: Episode, *, ended_before: datetime) -> bool:
    """An episode that began within the series and was over before ``ended_before``."""
    return not episode.continues and episode.ended and episode.ended_at < ended_before
