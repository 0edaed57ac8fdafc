from datetime import datetime

from django.db.models.manager import BaseManager
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from citysafety.api import ChoiceLabelField, api_datetime, choice_labels
from dispatch.models import WorkOrder, WorkOrderEvent
from dispatch.timeline import event_sentence
from warning.api.serializers import WarningSummaryRows, WarningSummarySerializer, department_name, display_name


class WorkOrderEventSerializer(serializers.ModelSerializer):
    kind_display = ChoiceLabelField("kind")
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


def _due(order: WorkOrder) -> tuple[str | None, datetime | None]:
    current = order.current_deadline()
    return current if current is not None else (None, None)


class WorkOrderListSerializer(serializers.ListSerializer):
    """WorkOrderSerializer's output for many orders, field for field, in plain code (citysafety.api)."""

    def to_representation(self, data) -> list[dict]:
        zone = timezone.get_current_timezone()
        statuses = choice_labels(WorkOrder, "status")
        levels = choice_labels(WorkOrder, "level")
        kinds = choice_labels(WorkOrderEvent, "kind")
        warnings = WarningSummaryRows()

        def event(item: WorkOrderEvent) -> dict:
            return {
                "kind": item.kind,
                "kind_display": kinds.get(item.kind, str(item.kind)),
                "actor": display_name(item.actor),
                "actor_department": department_name(item.actor),
                "summary": event_sentence(item.kind, item.data),
                "data": item.data,
                "note": item.note,
                "created_at": api_datetime(item.created_at, zone),
            }

        def row(order: WorkOrder) -> dict:
            department = order.department
            return {
                "id": order.pk,
                "status": order.status,
                "status_display": statuses.get(order.status, str(order.status)),
                "level": order.level,
                "level_display": levels.get(order.level, str(order.level)),
                # Phone and e-mail: the duty officer calls a department that is late.
                "department": {
                    "id": order.department_id,
                    "code": department.code,
                    "name": department.name,
                    "phone": department.phone,
                    "email": department.email,
                },
                "created_at": api_datetime(order.created_at, zone),
                "ack_deadline": api_datetime(order.ack_deadline, zone),
                "arrive_deadline": api_datetime(order.arrive_deadline, zone),
                "report_deadline": api_datetime(order.report_deadline, zone),
                "due_stage": _due(order)[0],
                "due_at": api_datetime(_due(order)[1], zone),
                "arrived_at": api_datetime(order.arrived_at, zone),
                "is_overdue": order.is_overdue,
                "acknowledged_at": api_datetime(order.acknowledged_at, zone),
                "reported_at": api_datetime(order.reported_at, zone),
                "report": order.report,
                "closed_at": api_datetime(order.closed_at, zone),
                "warning": warnings.row(order.warning),
                "events": [event(item) for item in order.events.all()],
            }

        return [row(order) for order in (data.all() if isinstance(data, BaseManager) else data)]


class WorkOrderSerializer(serializers.ModelSerializer):
    status_display = ChoiceLabelField("status")
    level_display = ChoiceLabelField("level")
    department = serializers.SerializerMethodField()
    due_stage = serializers.SerializerMethodField(
        help_text="What the order must do next by a deadline: acknowledge, arrive (be on site) or report; null for none."
    )
    due_at = serializers.SerializerMethodField(help_text="That deadline; the staff page counts down to it.")
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
            "arrive_deadline",
            "report_deadline",
            "due_stage",
            "due_at",
            "arrived_at",
            "is_overdue",
            "acknowledged_at",
            "reported_at",
            "report",
            "closed_at",
            "warning",
            "events",
        ]
        list_serializer_class = WorkOrderListSerializer

    @extend_schema_field(serializers.ChoiceField(choices=["acknowledge", "arrive", "report"], allow_null=True))
    def get_due_stage(self, order) -> str | None:
        return _due(order)[0]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_due_at(self, order) -> str | None:
        due = _due(order)[1]
        return serializers.DateTimeField().to_representation(due) if due else None

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
