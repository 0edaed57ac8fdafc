from django.core.exceptions import ObjectDoesNotExist
from django.db.models.manager import BaseManager
from django.utils import timezone
from rest_framework import serializers

from citysafety.api import ChoiceLabelField, api_datetime, choice_labels
from warning.models import Direction, FalseAlarmReason, Level, ThresholdRule, Warning, WarningTransition


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


class WarningSensorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField(source="sensor_type.name")
    unit = serializers.CharField(source="sensor_type.unit")
    location = serializers.SerializerMethodField(help_text="[longitude, latitude]")
    address = serializers.CharField()

    def get_location(self, sensor) -> list[float]:
        return [round(sensor.location.x, 6), round(sensor.location.y, 6)]


class WarningSummaryRows:
    """WarningSummarySerializer's output for many warnings, field for field, in plain code (citysafety.api)."""

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
            "domain": {"code": sensor_type.domain.code, "name": sensor_type.domain.name},
            "district": {"code": district.code, "name": district.name} if district else None,
            "rule": {
                "id": rule.pk,
                "name": rule.name,
                "kind": rule.kind,
                "direction": rule.direction,
                "thresholds": {"1": rule.level1_threshold, "2": rule.level2_threshold, "3": rule.level3_threshold},
                "lower_thresholds": rule_lower_thresholds(rule),
                "dead_band": rule.dead_band,
            },
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


class WarningSummaryListSerializer(serializers.ListSerializer):
    def to_representation(self, data) -> list[dict]:
        rows = WarningSummaryRows()
        return [rows.row(warning) for warning in (data.all() if isinstance(data, BaseManager) else data)]


class WarningSummarySerializer(serializers.ModelSerializer):
    level_display = ChoiceLabelField("level")
    colour = serializers.SerializerMethodField()
    status_display = ChoiceLabelField("status")
    sensor = WarningSensorSerializer()
    domain = serializers.SerializerMethodField()
    district = serializers.SerializerMethodField()
    rule = serializers.SerializerMethodField()
    incident = serializers.SerializerMethodField(
        help_text="The incident the warning belongs to: its id, its primary warning (the one routed), its asset,"
        " and the primary before the last hand-over with how it left (closed, false_alarm);"
        " null for a warning on its own."
    )
    closed_at = serializers.DateTimeField(
        source="ended_at",
        read_only=True,
        allow_null=True,
        help_text="When the warning was closed; for a historical warning (`is_historical`), when its episode ended"
        " (its last transition), not when its readings were imported.",
    )
    current_level = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="The level the latest value reaches now (0: none, inside the dead band); null unless active."
        " `level` is the worst the warning has been.",
    )

    class Meta:
        model = Warning
        fields = [
            "id",
            "level",
            "level_display",
            "colour",
            "current_level",
            "status",
            "status_display",
            "sensor",
            "domain",
            "district",
            "rule",
            "opened_at",
            "first_value",
            "last_value",
            "peak_value",
            "last_observed_at",
            "recovered_at",
            "closed_at",
            "disposal_note",
            "is_historical",
            "is_flapping",
            "incident",
        ]
        list_serializer_class = WarningSummaryListSerializer

    def get_incident(self, warning) -> dict | None:
        return incident_summary(warning)

    def get_colour(self, warning) -> str:
        return warning.colour

    def get_domain(self, warning) -> dict:
        domain = warning.sensor.sensor_type.domain
        return {"code": domain.code, "name": domain.name}

    def get_district(self, warning) -> dict | None:
        district = warning.sensor.district
        return {"code": district.code, "name": district.name} if district else None

    def get_rule(self, warning) -> dict:
        rule = warning.rule
        return {
            "id": rule.pk,
            "name": rule.name,
            "kind": rule.kind,
            "direction": rule.direction,
            "thresholds": {"1": rule.level1_threshold, "2": rule.level2_threshold, "3": rule.level3_threshold},
            "lower_thresholds": rule_lower_thresholds(rule),
            "dead_band": rule.dead_band,
        }


class WarningTransitionSerializer(serializers.ModelSerializer):
    kind_display = ChoiceLabelField("kind")
    actor = serializers.SerializerMethodField()
    actor_department = serializers.SerializerMethodField()

    class Meta:
        model = WarningTransition
        fields = [
            "kind",
            "kind_display",
            "from_level",
            "to_level",
            "value",
            "observed_at",
            "created_at",
            "actor",
            "actor_department",
            "note",
        ]

    def get_actor(self, transition) -> str | None:
        return display_name(transition.actor)

    def get_actor_department(self, transition) -> str | None:
        return department_name(transition.actor)


# 研判 (warning.verification): what the duty officers' views add to a warning.
# Not in the summary, which department staff read inside their work orders.
VERIFICATION_FIELDS = [
    "verification",
    "verification_display",
    "verification_requested_at",
    "verified_at",
    "verified_by",
    "false_alarm_reason",
    "false_alarm_reason_display",
]


class VerificationFieldsMixin(serializers.Serializer):
    verification_display = ChoiceLabelField("verification")
    verification_requested_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Since when the warning waits for a verdict (the queue's age)."
    )
    verified_by = serializers.SerializerMethodField()
    false_alarm_reason_display = ChoiceLabelField("false_alarm_reason")

    def get_verified_by(self, warning) -> str | None:
        return display_name(warning.verified_by)


class WarningDetailSerializer(VerificationFieldsMixin, WarningSummarySerializer):
    transitions = WarningTransitionSerializer(many=True, read_only=True)
    closed_by = serializers.SerializerMethodField()

    class Meta(WarningSummarySerializer.Meta):
        fields = [
            *WarningSummarySerializer.Meta.fields,
            "closed_by",
            "closed_while_active",
            *VERIFICATION_FIELDS,
            "transitions",
        ]
        list_serializer_class = serializers.ListSerializer

    def get_closed_by(self, warning) -> str | None:
        return display_name(warning.closed_by)


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


class UnverifiedWarningListSerializer(serializers.ListSerializer):
    def to_representation(self, data) -> list[dict]:
        rows = UnverifiedWarningRows()
        return [rows.row(warning) for warning in (data.all() if isinstance(data, BaseManager) else data)]


class UnverifiedWarningSerializer(VerificationFieldsMixin, WarningSummarySerializer):
    """A row of the verification queue: the summary and its verification."""

    class Meta(WarningSummarySerializer.Meta):
        fields = [*WarningSummarySerializer.Meta.fields, *VERIFICATION_FIELDS]
        list_serializer_class = UnverifiedWarningListSerializer


class ConfirmSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=4000, default="", help_text="What the verification found."
    )


class FalseAlarmSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=FalseAlarmReason.choices, help_text="Why the warning was false.")
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4000,
        default="",
        help_text="What it was; required when the reason is `other`.",
    )
