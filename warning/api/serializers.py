from django.core.exceptions import ObjectDoesNotExist
from rest_framework import serializers

from warning.models import Warning, WarningTransition


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
    level_display = serializers.CharField(source="get_level_display")
    colour = serializers.SerializerMethodField()
    status_display = serializers.CharField(source="get_status_display")
    sensor = WarningSensorSerializer()
    domain = serializers.SerializerMethodField()
    district = serializers.SerializerMethodField()
    rule = serializers.SerializerMethodField()
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
    kind_display = serializers.CharField(source="get_kind_display")
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


class WarningDetailSerializer(WarningSummarySerializer):
    transitions = WarningTransitionSerializer(many=True, read_only=True)
    closed_by = serializers.SerializerMethodField()

    class Meta(WarningSummarySerializer.Meta):
        fields = [*WarningSummarySerializer.Meta.fields, "closed_by", "closed_while_active", "transitions"]

    def get_closed_by(self, warning) -> str | None:
        return display_name(warning.closed_by)
