from datetime import datetime

from django.db.models.manager import BaseManager
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from citysafety.api import ChoiceLabelField, NullableIntegerField, api_datetime, choice_labels
from dispatch.models import ReportPhoto, WorkOrder, WorkOrderAction, WorkOrderEvent
from dispatch.timeline import event_sentence
from warning.api.serializers import WarningSummaryRows, WarningSummarySerializer, department_name, display_name


def action_row(action: WorkOrderAction, zone) -> dict:
    return {
        "id": action.pk,
        "text": action.text,
        "level": action.level,
        "done": action.done,
        "done_at": api_datetime(action.done_at, zone),
    }


def photo_row(photo: ReportPhoto, zone) -> dict:
    # Served through a view that checks the reader's right to the order, never as a static file.
    return {
        "id": photo.pk,
        "name": photo.original_name,
        "url": reverse("work-order-photo", args=[photo.pk]),
        "thumbnail_url": reverse("work-order-photo-thumbnail", args=[photo.pk]),
        "content_type": photo.content_type,
        "size": photo.size,
        "width": photo.width,
        "height": photo.height,
        "uploaded_at": api_datetime(photo.uploaded_at, zone),
    }


def order_link(order: WorkOrder | None) -> dict | None:
    return None if order is None else {"id": order.pk, "department": order.department.name}


def assignee_row(user) -> dict | None:
    return None if user is None else {"id": user.pk, "name": user.get_full_name() or user.get_username()}


class ActionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    level = serializers.IntegerField()
    done = serializers.BooleanField()
    done_at = serializers.DateTimeField(allow_null=True)


class PhotoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="The file's name on the sender's device.")
    url = serializers.CharField(help_text="The photo, for those who may see the order.")
    thumbnail_url = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes.")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    uploaded_at = serializers.DateTimeField()


class OrderLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    department = serializers.CharField()


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


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
                "is_overdue": order.is_overdue,
                "acknowledged_at": api_datetime(order.acknowledged_at, zone),
                "on_site_at": api_datetime(order.on_site_at, zone),
                "reported_at": api_datetime(order.reported_at, zone),
                "report": order.report,
                "report_cause": order.report_cause,
                "report_actions": order.report_actions,
                "report_result": order.report_result,
                "people_sent": order.people_sent,
                "vehicles_sent": order.vehicles_sent,
                "verified_at": api_datetime(order.verified_at, zone),
                "closed_at": api_datetime(order.closed_at, zone),
                "assignee": assignee_row(order.assignee),
                "status_reason": order.status_reason,
                "transferred_from": order_link(order.transferred_from),
                "transferred_to": order_link(getattr(order, "transferred_to", None)),
                "actions": [action_row(action, zone) for action in order.actions.all()],
                "photos": [photo_row(photo, zone) for photo in order.photos.all()],
                "warning": warnings.row(order.warning),
                "events": [event(item) for item in order.events.all()],
            }

        return [row(order) for order in (data.all() if isinstance(data, BaseManager) else data)]


class WorkOrderSerializer(serializers.ModelSerializer):
    status_display = ChoiceLabelField("status")
    level_display = ChoiceLabelField("level")
    department = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()
    transferred_from = serializers.SerializerMethodField()
    transferred_to = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField(
        help_text="The response plan's actions for this department: the checklist."
    )
    photos = serializers.SerializerMethodField()
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
            "is_overdue",
            "acknowledged_at",
            "on_site_at",
            "reported_at",
            "report",
            "report_cause",
            "report_actions",
            "report_result",
            "people_sent",
            "vehicles_sent",
            "verified_at",
            "closed_at",
            "assignee",
            "status_reason",
            "transferred_from",
            "transferred_to",
            "actions",
            "photos",
            "warning",
            "events",
        ]
        list_serializer_class = WorkOrderListSerializer

    @extend_schema_field(PersonSerializer(allow_null=True))
    def get_assignee(self, order) -> dict | None:
        return assignee_row(order.assignee)

    @extend_schema_field(OrderLinkSerializer(allow_null=True))
    def get_transferred_from(self, order) -> dict | None:
        return order_link(order.transferred_from)

    @extend_schema_field(OrderLinkSerializer(allow_null=True))
    def get_transferred_to(self, order) -> dict | None:
        return order_link(getattr(order, "transferred_to", None))

    @extend_schema_field(ActionSerializer(many=True))
    def get_actions(self, order) -> list[dict]:
        zone = timezone.get_current_timezone()
        return [action_row(action, zone) for action in order.actions.all()]

    @extend_schema_field(PhotoSerializer(many=True))
    def get_photos(self, order) -> list[dict]:
        zone = timezone.get_current_timezone()
        return [photo_row(photo, zone) for photo in order.photos.all()]

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


class IdListField(serializers.ListField):
    """A list of ids whose refusal is one flat message naming the bad items, as every field error of the API is."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            detail = error.detail
            if isinstance(detail, dict):
                positions = ", ".join(str(int(key) + 1) for key in sorted(detail, key=int)[:10])
                raise serializers.ValidationError(
                    _("Items %(positions)s are not whole numbers (ids).") % {"positions": positions}
                ) from None
            raise


class ReportSerializer(serializers.Serializer):
    # min_length: said in the schema; a blank report is refused before it.
    report = serializers.CharField(min_length=1, max_length=8000, help_text="How the department handled the warning.")
    cause = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    actions_taken = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    result = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    people_sent = NullableIntegerField(required=False, min_value=0, max_value=100000, default=None)
    vehicles_sent = NullableIntegerField(required=False, min_value=0, max_value=100000, default=None)
    done_actions = IdListField(
        child=serializers.IntegerField(),
        required=False,
        default=list,
        max_length=500,
        help_text="Ids of the checklist actions done; those not listed stay open.",
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(min_length=1, max_length=4000, help_text="Why: the next person to act reads it.")


class TransferSerializer(ReasonSerializer):
    department = serializers.IntegerField(help_text="The department that takes the order over.")


class AssignSerializer(serializers.Serializer):
    assignee = NullableIntegerField(help_text="A person of the order's department; null for nobody.")


class VerifySerializer(serializers.Serializer):
    accept = serializers.BooleanField(help_text="True accepts the report; false sends it back with `reason`.")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


class PhotoUploadSerializer(serializers.Serializer):
    photo = serializers.FileField(help_text="A JPEG, PNG or WebP photo, checked by content.")


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
