"""What the lists, the API and the pushes send of a warning: plain rows, free of DRF.

The serializers in ``warning.api`` name these rows' fields for the OpenAPI
schema and reuse them; the pushes (``warning.pushes``) send them as they
are, so a screen and the API see one shape.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from citysafety.payloads import api_datetime, choice_labels
from warning.models import Direction, GatewayOutage, Level, ThresholdRule, Warning


def display_name(user) -> str | None:
    """How a person is named in timelines: full name, else user name.

    A "full name" that is only the person's department's name (accounts
    made for a department, as the demo's are) names nobody: the user name
    does, and the department is shown beside it (``department_name``).
    """
    if user is None:
        return None
    full_name = user.get_full_name()
    department = department_name(user)
    if full_name and full_name != department:
        return full_name
    return user.get_username()


def department_name(user) -> str | None:
    """The name of the department the person works for (None for none)."""
    if user is None:
        return None
    try:
        return user.membership.department.name
    except ObjectDoesNotExist:
        return None


def rule_lower_thresholds(rule: ThresholdRule) -> dict[str, float] | None:
    """A band's low side; None for a rule with one side."""
    if rule.direction != Direction.OUTSIDE:
        return None
    return {"1": rule.level1_lower_threshold, "2": rule.level2_lower_threshold, "3": rule.level3_lower_threshold}


def rule_summary(rule: ThresholdRule) -> dict:
    return {
        "id": rule.pk,
        "name": rule.name,
        "kind": rule.kind,
        "direction": rule.direction,
        "thresholds": {"1": rule.level1_threshold, "2": rule.level2_threshold, "3": rule.level3_threshold},
        "lower_thresholds": rule_lower_thresholds(rule),
        "dead_band": rule.dead_band,
    }


def domain_summary(domain) -> dict:
    return {"code": domain.code, "name": domain.name}


def district_summary(district) -> dict | None:
    return {"code": district.code, "name": district.name} if district else None


def incident_summary(warning: Warning) -> dict | None:
    incident = warning.incident
    if incident is None:
        return None
    asset = incident.asset
    return {
        "id": incident.pk,
        "primary": incident.primary_id,
        "asset": asset.name if asset else None,
        # The primary before the last hand-over and how it left (a transition kind), or null.
        "handed_over_from": incident.handed_over_from_id,
        "handed_over_reason": incident.handed_over_reason or None,
    }


class WarningSummaryRows:
    """A warning as the lists and the pushes send it: WarningSummarySerializer's output, field for field
    (tests compare them), in plain code (citysafety.payloads)."""

    def __init__(self) -> None:
        self.zone = timezone.get_current_timezone()
        self.levels = choice_labels(Warning, "level")
        self.statuses = choice_labels(Warning, "status")
        self.colours = {level.value: level.colour.name for level in Level}

    def row(self, warning: Warning) -> dict:
        sensor, rule, zone = warning.sensor, warning.rule, self.zone
        sensor_type, district = sensor.sensor_type, sensor.district
        location = sensor.location
        return {
            "id": warning.pk,
            "level": warning.level,
            "level_display": self.levels.get(warning.level, str(warning.level)),
            "colour": self.colours[warning.level],
            "current_level": warning.current_level,
            "status": warning.status,
            "status_display": self.statuses.get(warning.status, str(warning.status)),
            "sensor": {
                "id": sensor.pk,
                "code": sensor.code,
                "name": sensor.name,
                "type": sensor_type.name,
                "unit": sensor_type.unit,
                "location": [round(location.x, 6), round(location.y, 6)],
                "address": sensor.address,
            },
            "domain": domain_summary(sensor_type.domain),
            "district": district_summary(district),
            "rule": rule_summary(rule),
            "opened_at": api_datetime(warning.opened_at, zone),
            "first_value": float(warning.first_value),
            "last_value": float(warning.last_value),
            "peak_value": float(warning.peak_value),
            "last_observed_at": api_datetime(warning.last_observed_at, zone),
            "recovered_at": api_datetime(warning.recovered_at, zone),
            "closed_at": api_datetime(warning.ended_at, zone),
            "disposal_note": warning.disposal_note,
            "is_historical": warning.is_historical,
            "is_flapping": warning.is_flapping,
            "incident": incident_summary(warning),
        }


class UnverifiedWarningRows(WarningSummaryRows):
    """UnverifiedWarningSerializer's output, field for field, in plain code."""

    def __init__(self) -> None:
        super().__init__()
        self.verifications = choice_labels(Warning, "verification")
        self.reasons = choice_labels(Warning, "false_alarm_reason")

    def row(self, warning: Warning) -> dict:
        return {
            **super().row(warning),
            "verification": warning.verification,
            "verification_display": self.verifications.get(warning.verification, str(warning.verification)),
            "verification_requested_at": api_datetime(warning.verification_requested_at, self.zone),
            "verified_at": api_datetime(warning.verified_at, self.zone),
            "verified_by": display_name(warning.verified_by),
            "false_alarm_reason": warning.false_alarm_reason,
            "false_alarm_reason_display": self.reasons.get(warning.false_alarm_reason, str(warning.false_alarm_reason)),
        }


def outage_row(outage: GatewayOutage) -> dict:
    """A gateway outage as its API and its push give it (``GatewayOutageSerializer``'s fields)."""
    zone = timezone.get_current_timezone()
    return {
        "id": outage.pk,
        "gateway_code": outage.gateway.code,
        "gateway_name": outage.gateway.name,
        "level": outage.level,
        "status": outage.status,
        "opened_at": api_datetime(outage.opened_at, zone),
        "last_seen_at": api_datetime(outage.last_seen_at, zone),
        "silent_sensors": outage.silent_sensors,
        "recovered_at": api_datetime(outage.recovered_at, zone),
    }
