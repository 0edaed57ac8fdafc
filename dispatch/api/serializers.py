from rest_framework import serializers

from citysafety.api import ChoiceLabelField
from dispatch.models import WorkOrder, WorkOrderEvent
from warning.api.serializers import WarningSummarySerializer, display_name


class WorkOrderEventSerializer(serializers.ModelSerializer):
    kind_display = ChoiceLabelField("kind")
    actor = serializers.SerializerMethodField()

    class Meta:
        model = WorkOrderEvent
        fields = ["kind", "kind_display", "actor", "note", "created_at"]

    def get_actor(self, event) -> str | None:
        return display_name(event.actor)


class WorkOrderSerializer(serializers.ModelSerializer):
    status_display = ChoiceLabelField("status")
    level_display = ChoiceLabelField("level")
    department = serializers.SerializerMethodField()
    warning = WarningSummarySerializer()
    events = WorkOrderEventSerializer(many=True)

    class Meta:
        model = WorkOrder
        fields = [
            "id",
            "status",
            "status_display",
            "level",
            "level_display",
            "department",
            "created_at",
            "ack_deadline",
            "is_overdue",
            "acknowledged_at",
            "reported_at",
            "report",
            "closed_at",
            "warning",
            "events",
        ]

    def get_department(self, order) -> dict:
        return {"id": order.department_id, "code": order.department.code, "name": order.department.name}


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


class ReportSerializer(serializers.Serializer):
    report = serializers.CharField(max_length=8000, help_text="How the department handled the warning.")


class CloseSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=8000, help_text="Disposal note: what happened and what was done.")
