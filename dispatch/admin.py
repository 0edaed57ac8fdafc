"""Admin for routing policies and (read-only) work orders.

Departments and their members are the organisation app's (organisation/admin.py).
"""

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from citysafety.admin_mixins import ViewOnly
from dispatch.models import (
    EscalationStep,
    ResponsePlan,
    ResponsePlanAction,
    RoutingPolicy,
    WorkOrder,
    WorkOrderAction,
    WorkOrderEvent,
)
from dispatch.timeline import event_sentence
from warning import admin as warning_admin
from warning.models import Level, Warning


class RoutingPolicyForm(forms.ModelForm):
    class Meta:
        model = RoutingPolicy
        fields = (
            "domain",
            "level",
            "ack_deadline_minutes",
            "verification",
            "arrive_deadline_minutes",
            "report_deadline_minutes",
            "departments",
            "include_sensor_owner",
            "include_district_government",
        )

    def clean(self) -> dict:
        self._check_deadline_order()
        # Said here, on the level field, instead of the generic "already exists"
        # of the unique constraint (skipped once the field has an error).
        cleaned = super().clean()
        domain, level = cleaned.get("domain"), cleaned.get("level")
        if domain is not None and level is not None:
            clash = RoutingPolicy.objects.filter(domain=domain, level=level).exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error(
                    "level",
                    _(
                        "%(domain)s already has a routing policy for %(level)s: edit that policy, "
                        "or choose another level or risk domain."
                    )
                    % {"domain": domain, "level": Level(level).label},
                )
        return cleaned

    def _check_deadline_order(self) -> None:
        ack = self.cleaned_data.get("ack_deadline_minutes")
        arrive = self.cleaned_data.get("arrive_deadline_minutes")
        report = self.cleaned_data.get("report_deadline_minutes")
        if ack is not None and arrive is not None and arrive < ack:
            self.add_error(
                "arrive_deadline_minutes",
                ngettext(
                    "Being on site cannot be due before acknowledging: give at least %(minutes)s minute.",
                    "Being on site cannot be due before acknowledging: give at least %(minutes)s minutes.",
                    ack,
                )
                % {"minutes": ack},
            )
        if arrive is not None and report is not None and report < arrive:
            self.add_error(
                "report_deadline_minutes",
                ngettext(
                    "The report cannot be due before being on site: give at least %(minutes)s minute.",
                    "The report cannot be due before being on site: give at least %(minutes)s minutes.",
                    arrive,
                )
                % {"minutes": arrive},
            )


@admin.register(RoutingPolicy)
class RoutingPolicyAdmin(admin.ModelAdmin):
    form = RoutingPolicyForm
    list_display = (
        "domain",
        "level_display",
        "routed_to",
        "include_sensor_owner",
        "include_district_government",
        "ack_deadline_minutes",
        "verification",
        "arrive_deadline_minutes",
        "report_deadline_minutes",
    )
    list_filter = ("domain", "level", "verification", "include_sensor_owner", "include_district_government")
    list_select_related = ("domain",)
    filter_horizontal = ("departments",)
    fieldsets = (
        (None, {"fields": ("domain", "level", "verification")}),
        (
            _("Deadlines"),
            {
                "fields": ("ack_deadline_minutes", "arrive_deadline_minutes", "report_deadline_minutes"),
                "description": _("Minutes from dispatch. A missed deadline escalates by the escalation steps."),
            },
        ),
        (
            _("Routed to"),
            {
                "fields": ("departments", "include_sensor_owner", "include_district_government"),
                "description": _(
                    "A warning goes to the departments of its level and of every less severe level of the domain."
                ),
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingPolicy]:
        return super().get_queryset(request).prefetch_related("departments")

    @admin.display(description=_("level"), ordering="level")
    def level_display(self, obj: RoutingPolicy) -> str:
        return warning_admin.level_badge(obj.level)

    @admin.display(description=_("departments"))
    def routed_to(self, obj: RoutingPolicy) -> str:
        return ", ".join(d.name for d in obj.departments.all()) or "-"


class WorkOrderEventInline(admin.TabularInline):
    model = WorkOrderEvent
    fields = ("created_at", "kind", "actor", "summary", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkOrderEvent]:
        return super().get_queryset(request).select_related("actor")

    @admin.display(description=_("recorded by the platform"))
    def summary(self, obj: WorkOrderEvent) -> str:
        return event_sentence(obj.kind, obj.data) or "-"

    def has_add_permission(self, request: HttpRequest, obj: WorkOrder | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WorkOrder | None = None) -> bool:
        return False


class WorkOrderActionInline(ViewOnly, admin.TabularInline):
    model = WorkOrderAction
    fields = ("text", "level", "done", "done_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


class ResponsePlanActionInline(admin.TabularInline):
    model = ResponsePlanAction
    fields = ("department_kind", "position", "text")
    extra = 1


class ResponsePlanForm(forms.ModelForm):
    class Meta:
        model = ResponsePlan
        fields = ("domain", "level", "title")

    def clean(self) -> dict:
        cleaned = super().clean()
        domain, level = cleaned.get("domain"), cleaned.get("level")
        if domain is not None and level is not None:
            clash = ResponsePlan.objects.filter(domain=domain, level=level).exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error(
                    "level",
                    _(
                        "%(domain)s already has a response plan for %(level)s: edit that plan, "
                        "or choose another level or risk domain."
                    )
                    % {"domain": domain, "level": Level(level).label},
                )
        return cleaned


@admin.register(ResponsePlan)
class ResponsePlanAdmin(admin.ModelAdmin):
    """数字化预案: edited here; a work order copies its department's actions when it is made."""

    form = ResponsePlanForm
    list_display = ("title", "domain", "level_display", "action_count")
    list_filter = ("domain", "level")
    list_select_related = ("domain",)
    search_fields = ("title", "actions__text")
    inlines = (ResponsePlanActionInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ResponsePlan]:
        return super().get_queryset(request).annotate(action_total=Count("actions"))

    @admin.display(description=_("level"), ordering="level")
    def level_display(self, obj: ResponsePlan) -> str:
        return warning_admin.level_badge(obj.level)

    @admin.display(description=_("actions"), ordering="action_total")
    def action_count(self, obj: ResponsePlan) -> int:
        return obj.action_total


@admin.register(WorkOrder)
class WorkOrderAdmin(admin.ModelAdmin):
    """Read-only: a work order's status changes only through dispatch/services.py."""

    list_display = (
        "__str__",
        "warning",
        "department",
        "level_display",
        "status",
        "created_at",
        "ack_deadline",
        "is_overdue",
        "acknowledged_at",
    )
    list_filter = ("status", "level", "is_overdue", "department__kind", "department")
    list_select_related = ("warning__sensor", "department")
    search_fields = ("=warning__sensor__code", "department__name")
    search_help_text = _("Exact sensor code, or part of a department's name.")
    inlines = (WorkOrderEventInline, WorkOrderActionInline)
    fieldsets = (
        (None, {"fields": ("warning", "department", "level", "status")}),
        (
            _("Deadlines"),
            {
                "fields": (
                    "created_at",
                    "ack_deadline",
                    "is_overdue",
                    "acknowledged_at",
                    "arrive_deadline",
                    "report_deadline",
                    "escalation_step",
                    "escalated_at",
                )
            },
        ),
        (_("Handling"), {"fields": ("assignee", "on_site_at", "status_reason", "transferred_from")}),
        (
            _("Report"),
            {
                "fields": (
                    "reported_at",
                    "report",
                    "report_cause",
                    "report_actions",
                    "report_result",
                    "people_sent",
                    "vehicles_sent",
                    "verified_at",
                    "closed_at",
                )
            },
        ),
    )

    @admin.display(description=_("routed at level"), ordering="level")
    def level_display(self, obj: WorkOrder) -> str:
        return warning_admin.level_badge(obj.level)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WorkOrder | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WorkOrder | None = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class WarningWorkOrderInline(admin.TabularInline):
    model = WorkOrder
    fields = ("department", "level", "status", "ack_deadline", "is_overdue", "acknowledged_at", "closed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkOrder]:
        return super().get_queryset(request).select_related("department")

    def has_add_permission(self, request: HttpRequest, obj: Warning | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Warning | None = None) -> bool:
        return False


# A warning's page lists the work orders it caused; warning must not import
# dispatch, so the inline is added by re-registering a subclass here.
admin.site.unregister(Warning)


@admin.register(Warning)
class WarningAdmin(warning_admin.WarningAdmin):
    inlines = (*warning_admin.WarningAdmin.inlines, WarningWorkOrderInline)


@admin.register(EscalationStep)
class EscalationStepAdmin(admin.ModelAdmin):
    """The timing of reminders and escalations for every missed deadline."""

    list_display = ("target", "minutes_overdue", "repeat_every_minutes")
    ordering = ("minutes_overdue",)
