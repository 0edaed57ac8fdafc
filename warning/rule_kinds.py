"""What each kind of rule adds to plain thresholds: pure functions.

- A band (direction "outside") warns on either side; the fast path of
  evaluation checks both of its Level III thresholds in SQL.
- A duration (``hold_seconds`` or ``hold_readings``) keeps a run of
  consecutive readings per level in the rule's state row; a level counts
  once its run has lasted long enough.
- A rate of change is classified on the change over its window, computed
  in SQL from the stored readings (``sql_parameters``).
- A no-data rule classifies no value; ``warning.no_data`` sweeps for
  silent sensors.
"""

from datetime import datetime

from django.utils.translation import gettext as _

from warning.models import Direction, RuleKind, ThresholdRule

LEVELS = (3, 2, 1)

# How ``_NEW_READINGS`` (warning.services) turns a reading into the value a
# rule classifies: the reading itself, or its change over the rate window.
RATE_MODES = {
    (Direction.ABOVE, False): "rise",
    (Direction.ABOVE, True): "rise%",
    (Direction.BELOW, False): "fall",
    (Direction.BELOW, True): "fall%",
}


def sql_parameters(rule: ThresholdRule) -> tuple[float | None, float | None, int | None, str | None]:
    """(upper, lower, rate window seconds, rate mode) for evaluation's query.

    A value at or above ``upper``, or at or below ``lower``, reaches a
    threshold (classify would not call it NORMAL); None compares as never.
    A no-data rule reaches nothing: any reading is data.
    """
    if rule.kind == RuleKind.NO_DATA:
        return None, None, None, None
    t3 = rule.level3_threshold
    if rule.kind == RuleKind.RATE:
        return t3, None, rule.rate_window_seconds, RATE_MODES[(rule.direction, rule.rate_in_percent)]
    if rule.direction == Direction.OUTSIDE:
        return t3, rule.level3_lower_threshold, None, None
    if rule.direction == Direction.ABOVE:
        return t3, None, None, None
    return None, t3, None, None


def hold_advance(rule: ThresholdRule, progress: dict, level: int, observed_at: datetime) -> int:
    """Move a duration rule's runs by one reading (in observation order) that
    ``classify`` put at ``level``; returns the most severe level whose run
    has lasted (0: none). ``progress`` is changed in place.

    A reading at Level II continues the runs of Levels II and III and ends
    Level I's; a normal reading, or one in the dead band, ends every run.
    """
    for at in LEVELS:
        key = str(at)
        if 0 < level <= at:
            run = progress.get(key) or {"since": observed_at.isoformat(), "count": 0}
            run["count"] += 1
            progress[key] = run
        else:
            progress.pop(key, None)
    confirmed = 0
    for at in LEVELS:
        run = progress.get(str(at))
        if run and _lasted(rule, run, observed_at):
            confirmed = at
    return confirmed


def _lasted(rule: ThresholdRule, run: dict, observed_at: datetime) -> bool:
    if rule.hold_readings:
        return run["count"] >= rule.hold_readings
    if rule.hold_seconds:
        return (observed_at - datetime.fromisoformat(run["since"])).total_seconds() >= rule.hold_seconds
    return True


def _fmt(value: float) -> str:
    return f"{value:g}"


def rule_errors(rule: ThresholdRule) -> dict[str, str]:
    """Field name: what to change, for settings that contradict each other
    (empty: the rule is consistent). One message per field, the first found."""
    errors: dict[str, str] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, message)

    uppers = {3: "level3_threshold", 2: "level2_threshold", 1: "level1_threshold"}
    lowers = {3: "level3_lower_threshold", 2: "level2_lower_threshold", 1: "level1_lower_threshold"}
    kind = rule.kind
    if kind == RuleKind.NO_DATA:
        for field in (*uppers.values(), *lowers.values()):
            if getattr(rule, field) is not None:
                add(field, _("Clear this threshold: a no-data rule compares no value, it warns when readings stop."))
        if rule.hold_seconds or rule.hold_readings:
            add(
                "hold_seconds" if rule.hold_seconds else "hold_readings",
                _(
                    "Clear the duration: a no-data rule has none of its own. "
                    "How long a sensor must be silent is set in “silent for”."
                ),
            )
        if rule.rate_window_seconds:
            add("rate_window_seconds", _("Clear the rate window: only a rate-of-change rule uses it."))
        if rule.dead_band:
            add("dead_band", _("Set the dead band to 0: a no-data rule recovers at the first reading."))
        if not rule.no_data_seconds:
            add("no_data_seconds", _("Enter how many seconds without a reading open the warning."))
        if not rule.no_data_level:
            add("no_data_level", _("Choose the level a no-data warning opens at."))
        return errors

    if rule.no_data_seconds:
        add("no_data_seconds", _("Clear “silent for”: only a no-data rule uses it."))
    if rule.no_data_level:
        add("no_data_level", _("Clear the no-data level: only a no-data rule uses it."))
    if rule.hold_seconds and rule.hold_readings:
        add("hold_readings", _("Set the duration in seconds or in readings, not both: clear one of them."))
    missing = [field for field in uppers.values() if getattr(rule, field) is None]
    for field in missing:
        add(field, _("Enter this threshold: every level needs one."))

    if kind == RuleKind.RATE:
        if rule.direction == Direction.OUTSIDE:
            add("direction", _("A rate of change rises or falls: choose above (a rise) or below (a fall)."))
        if not rule.rate_window_seconds:
            add("rate_window_seconds", _("Enter the window, in seconds, over which the change is measured."))
    elif rule.rate_window_seconds:
        add("rate_window_seconds", _("Clear the rate window: only a rate-of-change rule uses it."))

    is_band = rule.direction == Direction.OUTSIDE and kind == RuleKind.THRESHOLD
    if is_band:
        for field in lowers.values():
            if getattr(rule, field) is None:
                add(field, _("Enter this lower threshold: a band warns below it as well as above the upper ones."))
    else:
        for field in lowers.values():
            if getattr(rule, field) is not None:
                add(field, _("Clear the lower thresholds: only a band (direction “outside”) has a low side."))
    if missing or errors:
        return errors

    t3, t2, t1 = rule.level3_threshold, rule.level2_threshold, rule.level1_threshold
    rises = kind == RuleKind.RATE or rule.direction in (Direction.ABOVE, Direction.OUTSIDE)
    if kind == RuleKind.RATE and t3 <= 0:
        add("level3_threshold", _("Enter a change greater than 0: a change of 0 or less is no change."))
    if rises:
        if not t3 < t2:
            add(
                "level2_threshold",
                _("For an upper limit the Level II threshold must be greater than Level III (%(t3)s).") % {"t3": t3},
            )
        elif not t2 < t1:
            add(
                "level1_threshold",
                _("For an upper limit the Level I threshold must be greater than Level II (%(t2)s).") % {"t2": t2},
            )
    else:
        if not t3 > t2:
            add(
                "level2_threshold",
                _("For a lower limit the Level II threshold must be less than Level III (%(t3)s).") % {"t3": t3},
            )
        elif not t2 > t1:
            add(
                "level1_threshold",
                _("For a lower limit the Level I threshold must be less than Level II (%(t2)s).") % {"t2": t2},
            )
    if errors:
        return errors
    if rule.dead_band is not None and rule.dead_band >= abs(t2 - t3):
        # A band as wide as the step to Level II would keep a warning
        # from ever recovering once it dropped below Level III.
        add(
            "dead_band",
            _("Make the dead band smaller than the gap between the Level III and Level II thresholds (%(gap)s).")
            % {"gap": _fmt(abs(t2 - t3))},
        )
    if not is_band:
        return errors
    l3, l2, l1 = rule.level3_lower_threshold, rule.level2_lower_threshold, rule.level1_lower_threshold
    if not l3 < t3:
        add(
            "level3_lower_threshold",
            _(
                "The band's bounds cross: make the Level III lower threshold less than the Level III upper "
                "threshold (%(t3)s)."
            )
            % {"t3": _fmt(t3)},
        )
        return errors
    if not l3 > l2:
        add(
            "level2_lower_threshold",
            _("On a band's low side the Level II lower threshold must be less than Level III's (%(l3)s).")
            % {"l3": _fmt(l3)},
        )
    elif not l2 > l1:
        add(
            "level1_lower_threshold",
            _("On a band's low side the Level I lower threshold must be less than Level II's (%(l2)s).")
            % {"l2": _fmt(l2)},
        )
    elif rule.dead_band is not None and rule.dead_band >= l3 - l2:
        add(
            "dead_band",
            _("Make the dead band smaller than the gap between the Level III and Level II lower thresholds (%(gap)s).")
            % {"gap": _fmt(l3 - l2)},
        )
    elif rule.dead_band is not None and 2 * rule.dead_band >= t3 - l3:
        add(
            "dead_band",
            _(
                "Make the dead band less than half the band's width (%(half)s): a value must be able to come back "
                "inside past the dead band on both sides."
            )
            % {"half": _fmt((t3 - l3) / 2)},
        )
    return errors
