from rest_framework import serializers

from citysafety.api import ChoiceLabelField
from warning.models import Warning, WarningTransition


def display_name(user) -> str | None:
    """How a person is named in timelines: full name, else user name."""
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


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


class WarningSummarySerializer(serializers.ModelSerializer):
    level_display = ChoiceLabelField("level")
    colour = serializers.SerializerMethodField()
    status_display = ChoiceLabelField("status")
    sensor = WarningSensorSerializer()
    domain = serializers.SerializerMethodField()
    district = serializers.SerializerMethodField()
    rule = serializers.SerializerMethodField()

    class Meta:
        model = Warning
        fields = [
            "id",
            "level",
            "level_display",
            "colour",
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
        ]

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
            "direction": rule.direction,
            "thresholds": {"1": rule.level1_threshold, "2": rule.level2_threshold, "3": rule.level3_threshold},
            "dead_band": rule.dead_band,
        }


class WarningTransitionSerializer(serializers.ModelSerializer):
    kind_display = ChoiceLabelField("kind")
    actor = serializers.SerializerMethodField()

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
            "note",
        ]

    def get_actor(self, transition) -> str | None:
        return display_name(transition.actor)


class WarningDetailSerializer(WarningSummarySerializer):
    transitions = WarningTransitionSerializer(many=True, read_only=True)
    closed_by = serializers.SerializerMethodField()

    class Meta(WarningSummarySerializer.Meta):
        fields = [*WarningSummarySerializer.Meta.fields, "closed_by", "transitions"]

    def get_closed_by(self, warning) -> str | None:
        return display_name(warning.closed_by)
