"""Readings that arrive late, and episodes of the past recorded as history.

A reading no newer than what its (sensor, rule) already evaluated (a
gateway's buffer, a back-fill, an archive) is taken apart from the live
readings (``warning.series``): it may raise the level of the warning whose
span it falls in, never recover it, and outside any warning it is cut into
episodes recorded as closed historical warnings (``warning.history``).
Called inside evaluation's chunk transaction; every change of status or
level is made by ``warning.transitions``.
"""

from datetime import datetime

from django.db.models import Q

from monitoring.models import Reading, Sensor
from warning import history, transitions
from warning.evaluation import NORMAL, classify, worse
from warning.models import RuleKind, ThresholdRule, TransitionKind, Warning, WarningStatus


def apply_late_rule_kind(
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
                changed += transitions.record_historical(sensor, rule, episode)
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


def apply_late_readings(
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
            changed += transitions.record_historical(sensor, rule, episode)
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
                changed += transitions.escalate_closed(warning, level, observed_at, value)
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
        return transitions.escalate(warning, level, observed_at, value)
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
