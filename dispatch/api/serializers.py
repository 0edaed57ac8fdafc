from django.db.models.manager import BaseManager
from django.utils import timezone
from django.utils.translation import ngettext
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from citysafety.api import ChoiceLabelField, NullableIntegerField
from dispatch.models import WorkOrder, WorkOrderEvent

# The rows are built in dispatch.payloads (free of DRF, for the pushes too).
from dispatch.payloads import (
    action_row,
    assignee_row,
    departments_with_orders,
    due,
    order_link,
    photo_row,
    work_order_rows,
)
from dispatch.timeline import event_sentence
from warning.api.serializers import WarningSummarySerializer, department_name, display_name


class ActionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    level = serializers.IntegerField()
    done = serializers.BooleanField()
    done_at = serializers.DateTimeField(allow_null=True)


class PlaceSerializer(serializers.Serializer):
    lon = serializers.FloatField()
    lat = serializers.FloatField()


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
    taken_at = serializers.DateTimeField(allow_null=True, help_text="When the photo says it was taken (EXIF).")
    taken_location = PlaceSerializer(allow_null=True, help_text="Where the photo says it was taken (EXIF GPS).")
    distance_from_sensor = serializers.IntegerField(
        allow_null=True, help_text="Metres from the order's sensor to where the photo was taken."
    )
    far_from_sensor = serializers.BooleanField(
        help_text="Taken farther from the sensor than the platform's setting WORK_ORDER_PHOTO_FAR_METRES."
    )


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


class WorkOrderListSerializer(serializers.ListSerializer):
    """WorkOrderSerializer's output for many orders, field for field: dispatch.payloads' rows."""

    def to_representation(self, data) -> list[dict]:
        return work_order_rows(data.all() if isinstance(data, BaseManager) else data)


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
    departments_with_orders = serializers.SerializerMethodField(
        help_text="Ids of the departments that already hold a work order on this warning: it cannot be transferred to them."
    )
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
            "departments_with_orders",
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

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_departments_with_orders(self, order) -> list[int]:
        return departments_with_orders(order)

    @extend_schema_field(ActionSerializer(many=True))
    def get_actions(self, order) -> list[dict]:
        zone = timezone.get_current_timezone()
        return [action_row(action, zone) for action in order.actions.all()]

    @extend_schema_field(PhotoSerializer(many=True))
    def get_photos(self, order) -> list[dict]:
        zone = timezone.get_current_timezone()
        return [photo_row(photo, zone, order.warning.sensor.location) for photo in order.photos.all()]

    @extend_schema_field(serializers.ChoiceField(choices=["acknowledge", "arrive", "report"], allow_null=True))
    def get_due_stage(self, order) -> str | None:
        return due(order)[0]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_due_at(self, order) -> str | None:
        at = due(order)[1]
        return serializers.DateTimeField().to_representation(at) if at else None

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
                    ngettext(
                        "Item %(positions)s is not a whole number (an id).",
                        "Items %(positions)s are not whole numbers (ids).",
                        len(detail),
                    )
                    % {"positions": positions}
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
