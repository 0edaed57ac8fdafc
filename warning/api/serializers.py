from django.db.models.manager import BaseManager
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from citysafety.api import ChoiceLabelField
from warning.models import FalseAlarmReason, Warning, WarningTransition

# The rows are built in warning.payloads (free of DRF, for the pushes too);
# named here, where the API's callers have always found them.
from warning.payloads import (
    UnverifiedWarningRows,
    WarningSummaryRows,
    department_name,
    display_name,
    district_summary,
    domain_summary,
    incident_summary,
    rule_summary,
)
from warning.selectors import thresholds_in_force


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
        return domain_summary(warning.sensor.sensor_type.domain)

    def get_district(self, warning) -> dict | None:
        return district_summary(warning.sensor.district)

    def get_rule(self, warning) -> dict:
        return rule_summary(warning.rule)


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


class ThresholdsInForceSerializer(serializers.Serializer):
    """The rule's thresholds when the warning opened (``warning.selectors.thresholds_in_force``)."""

    kind = serializers.CharField()
    direction = serializers.CharField()
    level1_threshold = serializers.FloatField(allow_null=True)
    level2_threshold = serializers.FloatField(allow_null=True)
    level3_threshold = serializers.FloatField(allow_null=True)
    level1_lower_threshold = serializers.FloatField(allow_null=True)
    level2_lower_threshold = serializers.FloatField(allow_null=True)
    level3_lower_threshold = serializers.FloatField(allow_null=True)
    hold_seconds = serializers.IntegerField()
    dead_band = serializers.FloatField()
    in_force_since = serializers.DateTimeField(
        allow_null=True, help_text="When these values were set; null when that was before the audit trail began."
    )
    changed_since = serializers.BooleanField(help_text="The rule's thresholds differ now.")


class WarningDetailSerializer(VerificationFieldsMixin, WarningSummarySerializer):
    transitions = WarningTransitionSerializer(many=True, read_only=True)
    closed_by = serializers.SerializerMethodField()
    thresholds_at_opening = serializers.SerializerMethodField(
        help_text="The rule's thresholds in force when the warning opened, from the audit trail."
    )

    class Meta(WarningSummarySerializer.Meta):
        fields = [
            *WarningSummarySerializer.Meta.fields,
            "closed_by",
            "closed_while_active",
            *VERIFICATION_FIELDS,
            "thresholds_at_opening",
            "transitions",
        ]
        list_serializer_class = serializers.ListSerializer

    def get_closed_by(self, warning) -> str | None:
        return display_name(warning.closed_by)

    @extend_schema_field(ThresholdsInForceSerializer)
    def get_thresholds_at_opening(self, warning) -> dict:
        return ThresholdsInForceSerializer(thresholds_in_force(warning.rule, warning.opened_at)).data


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
