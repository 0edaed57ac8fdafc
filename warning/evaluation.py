"""Classifying one value against a threshold rule: pure functions."""

from warning.models import Direction, ThresholdRule

# What a value means for an open warning at ``current_level``.
NORMAL = 0  # back to normal, past the dead band: the warning recovers
HOLD = -1  # inside the dead band: nothing changes


def exceeds(direction: str, value: float, threshold: float) -> bool:
    """Reaching a threshold counts as crossing it."""
    return value >= threshold if direction == Direction.ABOVE else value <= threshold


def recovery_limit(rule: ThresholdRule) -> float:
    """The Level III threshold moved back inside by the dead band: a warning
    in force recovers only once a value is past it."""
    if rule.direction == Direction.ABOVE:
        return rule.level3_threshold - rule.dead_band
    return rule.level3_threshold + rule.dead_band


def classify(rule: ThresholdRule, value: float, *, in_warning: bool) -> int:
    """The level (1 most severe … 3) the value reaches, or NORMAL or HOLD.

    HOLD is returned only while a warning is in force (``in_warning``) and
    the value has fallen back inside the Level III threshold but not yet
    past the dead band: hysteresis, so a value hovering at the threshold
    does not flap between warning and recovery.
    """
    for level, threshold in rule.thresholds().items():
        if exceeds(rule.direction, value, threshold):
            return level
    if in_warning and exceeds(rule.direction, value, recovery_limit(rule)):
        return HOLD
    return NORMAL


def value_at_level(rule: ThresholdRule, level: int, fraction: float) -> float:
    """A value that ``classify`` puts at ``level``, ``fraction`` of the way
    through that level's band (0 is on its threshold, 1 would be the next).

    Level III's band runs from its threshold to Level II's, Level II's to
    Level I's; Level I's is open, so it is taken as wide as Level II's.
    Signed widths make one formula serve upper and lower limits.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"The fraction must be at least 0 and below 1, not {fraction}.")
    thresholds = rule.thresholds()
    width = thresholds[1] - thresholds[2] if level == 1 else thresholds[level - 1] - thresholds[level]
    return thresholds[level] + fraction * width


def worse(direction: str, a: float, b: float) -> float:
    """The more alarming of two values."""
    return max(a, b) if direction == Direction.ABOVE else min(a, b)
