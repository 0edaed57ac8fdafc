"""Classifying one value against a threshold rule: pure functions."""

from warning.models import Direction, ThresholdRule

# What a value means for an open warning at ``current_level``.
NORMAL = 0  # back to normal, past the dead band: the warning recovers
HOLD = -1  # inside the dead band: nothing changes


def exceeds(direction: str, value: float, threshold: float) -> bool:
    """Reaching a threshold counts as crossing it."""
    return value >= threshold if direction == Direction.ABOVE else value <= threshold


def classify(rule: ThresholdRule, value: float, *, in_warning: bool) -> int:
    """The level (1 most severe … 3) the value reaches, or NORMAL or HOLD.

    HOLD is returned only while a warning is in force (``in_warning``) and
    the value has fallen back inside the Level III threshold but not yet
    past the dead band: hysteresis, so a value hovering at the threshold
    does not flap between warning and recovery.
    """
    for level, threshold in ((1, rule.level1_threshold), (2, rule.level2_threshold), (3, rule.level3_threshold)):
        if exceeds(rule.direction, value, threshold):
            return level
    if in_warning and rule.dead_band > 0:
        limit = (
            rule.level3_threshold - rule.dead_band
            if rule.direction == Direction.ABOVE
            else rule.level3_threshold + rule.dead_band
        )
        if exceeds(rule.direction, value, limit):
            return HOLD
    return NORMAL


def worse(direction: str, a: float, b: float) -> float:
    """The more alarming of two values."""
    return max(a, b) if direction == Direction.ABOVE else min(a, b)
