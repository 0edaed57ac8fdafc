from rest_framework import serializers

from dispatch.models import WorkOrder, WorkOrderEvent
from dispatch.timeline import event_sentence
from warning.api.serializers import WarningSummarySerializer, department_name, display_name


class WorkOrderEventSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display")
    actor = serializers.SerializerMethodField(help_text="The person who took the step, by name.")
    actor_department = serializers.SerializerMethodField(help_text="The department that person works for.")
    summary = serializers.SerializerMethodField(
        help_text="What the platform recorded, as a sentence in the request's language (empty for none)."
    )

    class Meta:
        model = WorkOrderEvent
        fields = ["kind", "kind_display", "actor", "actor_department", "summary", "data", "note", "created_at"]
        extra_kwargs = {
            "note": {"help_text": "What the person wrote."},
            "data": {"help_text": "What the platform recorded (level, minutes): `summary` says it."},
        }

    def get_actor(self, event) -> str | None:
        return display_name(event.actor)

    def get_actor_department(self, event) -> str | None:
        return department_name(event.actor)

    def get_summary(self, event) -> str:
        return event_sentence(event.kind, event.data)


class WorkOrderSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    level_display = serializers.CharField(source="get_level_display")
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
        department = order.department
        # Phone and e-mail: the duty officer calls a department that is late.
        return {
            "id": department.pk,
            "code": department.code,
            "name": department.name,
            "phone": department.phone,
            "email": department.email,
        }


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


class ReportSerializer(serializers.Serializer):
    # min_length: said in the schema; a blank report is refused before it.
    report = serializers.CharField(min_length=1, max_length=8000, help_text="How the department handled the warning.")


class CloseSerializer(serializers.Serializer):
    note = serializers.CharField(
        min_length=1,
        max_length=8000,
        help_text="Disposal note: what happened and what was done; for an active warning, why it is closed anyway.",
    )
    close_active = serializers.BooleanField(
        default=False,
        help_text="Close the warning although its sensor still reads in warning (answered 409 without it).",
    )
