"""The audit trail in the admin: each tracked object's history beside it, and every event, read-only."""

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.options import get_content_type_for_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from audit.history import author, object_history
from audit.models import TRACKED


class AuditEventAdmin(admin.ModelAdmin):
    """Every event of one kind, deleted objects' included; nothing here can be added, changed or deleted."""

    list_display = ("pgh_created_at", "pgh_label", "pgh_obj_id", "who")
    list_filter = ("pgh_label",)
    search_fields = ("pgh_obj_id",)
    search_help_text = _("The object's id (its history, deleted objects' included).")
    date_hierarchy = "pgh_created_at"

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        # By the object's id only: the object may be gone, so no join through the foreign key.
        term = search_term.strip()
        if not term:
            return queryset, False
        if not term.isdigit():
            return queryset.none(), False
        return queryset.filter(pgh_obj_id=int(term)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("who"))
    def who(self, event) -> str:
        return author(event.pgh_context)


class AuditHistoryMixin:
    """The admin's "History" of a tracked object shows its audit trail: who, when, before and after.

    The object may be gone: its history stays readable at the same address.
    """

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        model = self.model
        obj = model._default_manager.filter(pk=object_id).first() if object_id.isdigit() else None
        rows = object_history(model, object_id)
        # The admin's own log (actions that write no tracked column, such as a
        # gateway's new token, whose hash the trail leaves out) stays beside it.
        admin_log = (
            LogEntry.objects.filter(object_id=object_id, content_type=get_content_type_for_model(model))
            .select_related("user")
            .order_by("-action_time")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("History: %(object)s") % {"object": obj if obj is not None else f"#{object_id}"},
            "subtitle": None,
            "opts": model._meta,
            "object": obj,
            "object_id": object_id,
            "rows": rows,
            "admin_log": admin_log,
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "audit/object_history.html", context)


def _audit_the_tracked_admins() -> None:
    """Give each tracked model's admin (registered by its own app, which knows nothing of this one) the trail.

    The ``audit`` app is installed last, so every app's admin is registered by now.
    """
    for model, event_model in TRACKED.items():
        admin.site.register(event_model, AuditEventAdmin)
        registered = admin.site._registry.get(model)
        if registered is None:
            continue
        admin_class = type(registered)
        admin.site.unregister(model)
        admin.site.register(model, type(f"Audited{admin_class.__name__}", (AuditHistoryMixin, admin_class), {}))


_audit_the_tracked_admins()
