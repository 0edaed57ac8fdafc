"""Every write of the warning app: evaluation of readings and warning state.

A warning's level and status change here and nowhere else.
"""

import logging
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from citysafety import realtime
from citysafety.api import DomainError
from monitoring.models import Reading, Sensor
from warning import selectors
from warning.evaluation import HOLD, NORMAL, classify, worse
from warning.events import warning_changed
from warning.models import RuleState, ThresholdRule, TransitionKind, Warning, WarningStatus, WarningTransition

log = logging.getLogger(__name__)

# A state row seen for the first time evaluates only this much history, so
# adding a rule to a sensor with years of readings does not replay them all.
FIRST_EVALUATION_LOOKBACK = timedelta(hours=1)
# Readings evaluated per (sensor, rule) in one transaction; the rest wait
# for the next run (the periodic sweep finds them by the watermark).
MAX_READINGS_PER_RUN = 2000


def sensors_evaluate(*, sensor_ids: list[int]) -> int:
    """Evaluate the new readings of each sensor; one transaction per sensor."""
    changes = 0
    for sensor_id in sorted(set(sensor_ids)):
        changes += sensor_evaluate(sensor_id=sensor_id)
    return changes


def sensor_evaluate(*, sensor_id: int) -> int:
    """Evaluate the sensor's readings after each rule's watermark.

    Returns the number of warning transitions written. Two processes
    evaluating the same sensor serialise on the rule-state rows, and each
    evaluates only what the other has not, so the result is the same as
    one process doing it all.
    """
    sensor = Sensor.objects.select_related("sensor_type").filter(pk=sensor_id).first()
    if sensor is None:
        return 0
    rules = selectors.rules_for_sensor(sensor)
    if not rules:
        return 0
    transitions = 0
    with transaction.atomic():
        _ensure_states(sensor_id, [rule.pk for rule in rules])
        states = {
            state.rule_id: state
            for state in RuleState.objects.select_for_update()
            .filter(sensor_id=sensor_id, rule_id__in=[rule.pk for rule in rules])
            .order_by("rule_id")
        }
        for rule in rules:
            transitions += _evaluate_rule(sensor, rule, states[rule.pk])
        if transitions:
            _refresh_sensor_level(sensor_id)
    return transitions


def _ensure_states(sensor_id: int, rule_ids: list[int]) -> None:
    # INSERT … ON CONFLICT, not get_or_create: two processes racing to create
    # the row must both end up locking the same one, not fail.
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO warning_rulestate (sensor_id, rule_id, evaluated_through) VALUES (%s, %s, NULL) "
            "ON CONFLICT (sensor_id, rule_id) DO NOTHING",
            [(sensor_id, rule_id) for rule_id in rule_ids],
        )


def _evaluate_rule(sensor: Sensor, rule: ThresholdRule, state: RuleState) -> int:
    since = state.evaluated_through or timezone.now() - FIRST_EVALUATION_LOOKBACK
    readings = list(
        Reading.objects.filter(sensor_id=sensor.pk, observed_at__gt=since)
        .order_by("observed_at")
        .values_list("observed_at", "value")[:MAX_READINGS_PER_RUN]
    )
    if not readings:
        return 0
    warning = (
        Warning.objects.select_for_update()
        .filter(sensor_id=sensor.pk, rule_id=rule.pk)
        .exclude(status=WarningStatus.CLOSED)
        .first()
    )
    transitions = 0
    for observed_at, value in readings:
        warning, changed = _apply_reading(sensor, rule, warning, observed_at, value)
        transitions += changed
    if warning is not None and warning.pk:
        warning.save(update_fields=["level", "status", "last_value", "peak_value", "last_observed_at", "recovered_at"])
    state.evaluated_through = readings[-1][0]
    state.save(update_fields=["evaluated_through"])
    return transitions


def _apply_reading(
    sensor: Sensor, rule: ThresholdRule, warning: Warning | None, observed_at: datetime, value: float
) -> tuple[Warning | None, int]:
    """Move the (sensor, rule) warning by one reading; returns it and 1 if it changed state."""
    in_warning = warning is not None and warning.status == WarningStatus.ACTIVE
    level = classify(rule, value, in_warning=in_warning)

    if warning is not None:
        warning.last_value = value
        warning.last_observed_at = observed_at
        warning.peak_value = worse(rule.direction, warning.peak_value, value)

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
        _record(warning, TransitionKind.OPENED, None, level, value, observed_at)
        return warning, 1
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
        previous = warning.level
        warning.level = level
        _record(warning, TransitionKind.ESCALATED, previous, level, value, observed_at)
        return warning, 1
    return warning, 0


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
    warning_changed.send(sender=Warning, warning=warning, transition=transition)
    warning_id = warning.pk
    transaction.on_commit(lambda: push_warning(warning_id=warning_id))
    return transition


def _refresh_sensor_level(sensor_id: int) -> None:
    level = (
        Warning.objects.filter(sensor_id=sensor_id, status=WarningStatus.ACTIVE)
        .aggregate(level=Min("level"))
        .get("level")
    )
    Sensor.objects.filter(pk=sensor_id).exclude(warning_level=level).update(warning_level=level)


def warning_close(*, warning_id: int, user: AbstractBaseUser, note: str) -> Warning:
    """Close an open warning with a disposal note (the end of the loop).

    Callers check what else must hold first (dispatch: every work order
    reported); this checks only the warning's own state.
    """
    note = (note or "").strip()
    if not note:
        raise DomainError("Write a disposal note before closing the warning.")
    with transaction.atomic():
        warning = Warning.objects.select_for_update().filter(pk=warning_id).first()
        if warning is None:
            raise DomainError("This warning does not exist.")
        if warning.status == WarningStatus.CLOSED:
            raise DomainError("This warning is already closed.")
        warning.status = WarningStatus.CLOSED
        warning.closed_at = timezone.now()
        warning.closed_by = user
        warning.disposal_note = note
        _record(warning, TransitionKind.CLOSED, warning.level, warning.level, None, None, actor=user, note=note)
        _refresh_sensor_level(warning.sensor_id)
    return warning


def push_warning(*, warning_id: int) -> None:
    """Send the warning as it now stands to the duty officers' screens."""
    payload = selectors.warning_payload(warning_id)
    if payload is not None:
        realtime.send([realtime.DUTY_GROUP], "warning.changed", payload)
