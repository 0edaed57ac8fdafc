"""Classifying one value against a threshold rule: pure functions.

A rate-of-change rule is classified on the change over its window (see
``warning.rule_kinds``), which is a size: it warns above its thresholds
whichever way the metric moves. A no-data rule classifies no value: any
reading is data, so it is always normal.
"""

from warning.models import Direction, RuleKind, ThresholdRule

# What a value means for an open warning at ``current_level``.
NORMAL = 0  # back to normal, past the dead band: the warning recovers
HOLD = -1  # inside the dead band: nothing changes


def exceeds(direction: str, value: float, threshold: float) -> bool:
    """Reaching a threshold counts as crossing it."""
    return value >= threshold if direction == Direction.ABOVE else value <= threshold


def compared_direction(rule: ThresholdRule) -> str:
    """The side a value must be on to warn: a rate rule's change warns above."""
    return Direction.ABOVE if rule.kind == RuleKind.RATE else rule.direction


def recovery_limit(rule: ThresholdRule) -> float:
    """The Level III threshold moved back inside by the dead band: a warning
    in force recovers only once a value is past it. (A band's high side;
    ``lower_recovery_limit`` is its low side.)"""
    if compared_direction(rule) == Direction.BELOW:
        return rule.level3_threshold + rule.dead_band
    return rule.level3_threshold - rule.dead_band


def lower_recovery_limit(rule: ThresholdRule) -> float:
    return rule.level3_lower_threshold + rule.dead_band


def classify(rule: ThresholdRule, value: float, *, in_warning: bool) -> int:
    """The level (1 most severe … 3) the value reaches, or NORMAL or HOLD.

    HOLD is returned only while a warning is in force (``in_warning``) and
    the value has fallen back inside the Level III threshold but not yet
    past the dead band: hysteresis, so a value hovering at the threshold
    does not flap between warning and recovery. A band checks both sides.
    """
    if rule.kind == RuleKind.NO_DATA:
        return NORMAL
    direction = compared_direction(rule)
    if direction == Direction.OUTSIDE:
        for level in (1, 2, 3):
            if value >= rule.thresholds()[level] or value <= rule.lower_thresholds()[level]:
                return level
        if in_warning and (value >= recovery_limit(rule) or value <= lower_recovery_limit(rule)):
            return HOLD
        return NORMAL
    for level, threshold in rule.thresholds().items():
        if exceeds(direction, value, threshold):
            return level
    if in_warning and exceeds(direction, value, recovery_limit(rule)):
        return HOLD
    return NORMAL


def value_at_level(rule: ThresholdRule, level: int, fraction: float) -> float:
    """A value that ``classify`` puts at ``level``, ``fraction`` of the way
    through that level's band (0 is on its threshold, 1 would be the next).

    Level III's band runs from its threshold to Level II's, Level II's to
    Level I's; Level I's is open, so it is taken as wide as Level II's.
    Signed widths make one formula serve upper and lower limits (a band's
    high side).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"The fraction must be at least 0 and below 1, not {fraction}.")
    thresholds = rule.thresholds()
    width = thresholds[1] - thresholds[2] if level == 1 else thresholds[level - 1] - thresholds[level]
    return thresholds[level] + fraction * width


def worse(rule: ThresholdRule, a: float, b: float) -> float:
    """The more alarming of two values under this rule: for a band, the one
    further from its middle."""
    direction = compared_direction(rule)
    if direction == Direction.OUTSIDE:
        middle = (rule.level3_threshold + rule.level3_lower_threshold) / 2
        return a if abs(a - middle) >= abs(b - middle) else b
    return max(a, b) if direction == Direction.ABOVE else min(a, b)
