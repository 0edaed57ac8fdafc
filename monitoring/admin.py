"""Admin for what an administrator configures: domains, sensor types, sensors, gateways.

Threshold rules belong to the warning app, which monitoring never imports;
warning/admin.py re-registers the SensorType and Sensor admins below with
their rule inlines.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from leaflet.admin import LeafletGeoAdmin

from monitoring import services
from monitoring.forms import ReadingArchiveForm, SensorForm
from monitoring.imports import ArchiveError
from monitoring.models import Asset, Gateway, Reading, RiskDomain, Sensor, SensorType
from organisation import admin as organisation_admin
from organisation.admin import DistrictListFilter, with_count
from organisation.models import District


@admin.register(RiskDomain)
class RiskDomainAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "category", "sort_order")
    list_editable = ("sort_order",)
    list_filter = ("category",)
    search_fields = ("code", "name")


# The district list counts each district's sensors; organisation knows no
# sensors, so the count is added by re-registering a subclass here.
admin.site.unregister(District)


@admin.register(District)
class DistrictAdmin(organisation_admin.DistrictAdmin):
    list_display = (*organisation_admin.DistrictAdmin.list_display, "sensor_count")

    def get_queryset(self, request: HttpRequest) -> QuerySet[District]:
        return with_count(super().get_queryset(request), sensor_count="sensors")

    @admin.display(description=_("sensors"), ordering="sensor_count")
    def sensor_count(self, obj: District) -> int:
        return obj.sensor_count


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "district", "owner_department", "sensor_count")
    list_filter = ("kind", ("district", DistrictListFilter))
    list_select_related = ("district", "owner_department")
    search_fields = ("code", "name")
    autocomplete_fields = ("district", "owner_department")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Asset]:
        return with_count(super().get_queryset(request).defer("district__boundary"), sensor_count="sensors")

    @admin.display(description=_("sensors"), ordering="sensor_count")
    def sensor_count(self, obj: Asset) -> int:
        return obj.sensor_count


@admin.register(SensorType)
class SensorTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "domain", "metric", "unit", "reporting_interval_seconds", "sensor_count")
    list_filter = ("domain",)
    list_select_related = ("domain",)
    search_fields = ("code", "name", "metric")

    def get_queryset(self, request: HttpRequest) -> QuerySet[SensorType]:
        return with_count(super().get_queryset(request), sensor_count="sensors")

    @admin.display(description=_("sensors"), ordering="sensor_count")
    def sensor_count(self, obj: SensorType) -> int:
        return obj.sensor_count


# The confirmation page before a token is replaced. It lives here, next to the
# one view that renders it, because it is a dozen lines of the admin's own
# markup; it extends the admin's base template like delete_confirmation.html.
_ISSUE_TOKEN_CONFIRMATION = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}{% load i18n admin_urls %}
{% block breadcrumbs %}<div class="breadcrumbs">
<a href="{% url 'admin:index' %}">{% translate 'Home' %}</a>
&rsaquo; <a href="{% url 'admin:app_list' app_label=opts.app_label %}">{{ opts.app_config.verbose_name }}</a>
&rsaquo; <a href="{% url opts|admin_urlname:'changelist' %}">{{ opts.verbose_name_plural|capfirst }}</a>
&rsaquo; <a href="{% url opts|admin_urlname:'change' gateway.pk %}">{{ gateway }}</a>
&rsaquo; {{ title }}</div>{% endblock %}
{% block content %}
<p>{{ warning_text }}</p>
<form method="post">{% csrf_token %}
<div><input type="submit" value="{{ confirm_label }}">
<a href="{% url opts|admin_urlname:'change' gateway.pk %}" class="button cancel-link">{{ cancel_label }}</a></div>
</form>
{% endblock %}"""
)


def _announce_token(request: HttpRequest, gateway: Gateway, token: str) -> None:
    messages.warning(
        request,
        _(
            "New API token of gateway %(gateway)s: %(token)s — copy it now and configure the gateway with it. "
            "Only its hash is stored: it cannot be shown again."
        )
        % {"gateway": gateway.code, "token": token},
    )


@admin.register(Gateway)
class GatewayAdmin(admin.ModelAdmin):
    """The token is a secret: only a hash is stored, and the token itself is shown once.

    ``token_hash`` and ``token_prefix`` are not editable model fields, so no
    form ever carries them; a new token comes from ``Gateway.set_token`` only.
    """

    list_display = ("code", "name", "is_active", "token_prefix", "sensor_count", "created_at", "last_seen_at")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    readonly_fields = ("api_token", "created_at", "last_seen_at")
    fields = ("code", "name", "is_active", "api_token", "created_at", "last_seen_at")
    actions = ("issue_new_tokens",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Gateway]:
        return with_count(super().get_queryset(request), sensor_count="sensors")

    @admin.display(description=_("sensors"), ordering="sensor_count")
    def sensor_count(self, obj: Gateway) -> int:
        return obj.sensor_count

    @admin.display(description=_("API token"))
    def api_token(self, obj: Gateway) -> str:
        if obj.pk is None:
            return _("A token is issued when you save the gateway; it is shown once, at the top of the next page.")
        url = reverse(f"{self.admin_site.name}:monitoring_gateway_issue_token", args=[obj.pk])
        current = format_html("{}: <code>{}…</code>", _("starts with"), obj.token_prefix) if obj.token_prefix else ""
        return format_html(
            '{} <a class="button" href="{}">{}</a><div class="help">{}</div>',
            current,
            url,
            _("Issue a new token"),
            _("A lost token cannot be recovered: issue a new one; the current one stops working at once."),
        )

    def save_model(self, request: HttpRequest, obj: Gateway, form: object, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new gateway is born with its first token (token_hash is required
        # and never in the form); the token is shown now or never.
        token = obj.set_token()
        super().save_model(request, obj, form, change)
        _announce_token(request, obj, token)

    @admin.action(description=_("Issue a new API token for the selected gateways"), permissions=["change"])
    def issue_new_tokens(self, request: HttpRequest, queryset: QuerySet[Gateway]) -> None:
        for gateway in queryset:
            self._issue_token(request, gateway)

    def _issue_token(self, request: HttpRequest, gateway: Gateway) -> None:
        _announce_token(request, gateway, services.gateway_issue_token(gateway=gateway))
        # The gateway's history says who replaced its token and when.
        self.log_change(request, gateway, [{"changed": {"fields": ["API token"]}}])

    def get_urls(self) -> list[URLPattern]:
        issue = path(
            "<path:object_id>/issue-token/",
            self.admin_site.admin_view(self.issue_token_view),
            name="monitoring_gateway_issue_token",
        )
        return [issue, *super().get_urls()]

    def issue_token_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        gateway = self.get_object(request, unquote(object_id))
        if gateway is None:
            raise Http404
        if not self.has_change_permission(request, gateway):
            raise PermissionDenied
        change_url = reverse(f"{self.admin_site.name}:monitoring_gateway_change", args=[gateway.pk])
        if request.method == "POST":
            self._issue_token(request, gateway)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "gateway": gateway,
            "title": _("Issue a new API token"),
            "warning_text": _(
                "Gateway “%(name)s” (%(code)s) will get a new API token. Its current token stops working at "
                "once: the gateway is rejected until it is configured with the new one."
            )
            % {"name": gateway.name, "code": gateway.code},
            "confirm_label": _("Yes, issue a new token"),
            "cancel_label": _("No, take me back"),
        }
        return TemplateResponse(request, _ISSUE_TOKEN_CONFIRMATION, context)


@admin.register(Sensor)
class SensorAdmin(LeafletGeoAdmin):
    form = SensorForm
    list_display = (
        "code",
        "name",
        "sensor_type",
        "district",
        "owner_department",
        "status",
        "latest",
        "latest_at",
        "warning_level_display",
    )
    list_filter = (
        "sensor_type__domain",
        "sensor_type",
        ("district", DistrictListFilter),
        "status",
        "warning_level",
        "owner_department",
        "is_active",
    )
    list_select_related = ("sensor_type", "district", "owner_department", "state")
    search_fields = ("code", "name", "address")
    autocomplete_fields = ("sensor_type", "district", "owner_department", "gateway", "asset")
    # Written by ingestion, the liveness check and the warning app, never by hand.
    readonly_fields = ("status", "latest_value", "latest_observed_at", "warning_level", "readings_link")
    fieldsets = (
        (None, {"fields": ("code", "name", "sensor_type", "is_active")}),
        (_("Where"), {"fields": ("location", "district", "district_override", "address")}),
        (_("Owner and data path"), {"fields": ("owner_department", "gateway", "asset")}),
        (
            _("Current state"),
            {"fields": ("status", "latest_value", "latest_observed_at", "warning_level", "readings_link")},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Sensor]:
        # The list joins each sensor's district (list_select_related) for its
        # name, not its boundary.
        return super().get_queryset(request).defer("district__boundary")

    def save_model(self, request: HttpRequest, obj: Sensor, form: forms.ModelForm, change: bool) -> None:
        if change:
            # Only what the administrator changed: the latest value, status
            # and warning level that ingestion and evaluation write meanwhile
            # must not be put back as they were when the form was loaded.
            # The district may follow from a moved point (SensorForm), so it
            # is written with any change; the override box is no column.
            model_fields = {f.name for f in obj._meta.concrete_fields}
            changed = [name for name in form.changed_data if name in model_fields]
            if changed:
                obj.save(update_fields=sorted({*changed, "district"}))
            return
        super().save_model(request, obj, form, change)

    @admin.display(description=_("latest reading at"), ordering="state__latest_observed_at")
    def latest_at(self, obj: Sensor) -> str:
        return obj.latest_observed_at or self.get_empty_value_display()

    @admin.display(description=_("latest value"), ordering="state__latest_value")
    def latest(self, obj: Sensor) -> str:
        if obj.latest_value is None:
            return self.get_empty_value_display()
        # Rounded for reading, not in scientific notation: 1234567.8 stays so.
        return f"{round(obj.latest_value, 4)} {obj.sensor_type.unit}".strip()

    @admin.display(description=_("warning level"), ordering="warning_level")
    def warning_level_display(self, obj: Sensor) -> str:
        return self.get_empty_value_display() if obj.warning_level is None else str(obj.warning_level)

    @admin.display(description=_("readings"))
    def readings_link(self, obj: Sensor) -> str:
        if obj.pk is None:
            return self.get_empty_value_display()
        url = reverse(f"{self.admin_site.name}:monitoring_reading_changelist")
        return format_html('<a href="{}?sensor__id__exact={}">{}</a>', url, obj.pk, _("Latest readings of this sensor"))


class CappedCountPaginator(Paginator):
    """Counts at most ``cap`` rows: an exact COUNT(*) of the readings table scans millions of rows.

    The list pages through the newest ``cap`` matching readings; a search or a
    sensor filter narrows it further.
    """

    cap = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.cap].count()


@admin.register(Reading)
class ReadingAdmin(admin.ModelAdmin):
    """Read-only window on the big table, cheap on every request.

    No date hierarchy, no related-field filters and no sorting by column: each
    of them would scan or sort millions of rows. Two orders use an index:
    newest received first (primary key), or for one sensor newest observed
    first (the unique index on sensor and time).
    """

    list_display = ("sensor", "observed_at", "value", "received_at")
    list_select_related = ("sensor",)
    raw_id_fields = ("sensor",)
    search_fields = ("=sensor__code",)
    search_help_text = _("Exact sensor code.")
    sortable_by = ()
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator
    list_per_page = 50

    def _one_sensor(self, request: HttpRequest) -> bool:
        return bool(request.GET.get("sensor__id__exact") or request.GET.get("q"))

    def get_ordering(self, request: HttpRequest) -> tuple[str, ...]:
        return ("-sensor_id", "-observed_at") if self._one_sensor(request) else ("-id",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Reading], search_term: str
    ) -> tuple[QuerySet[Reading], bool]:
        # A case-sensitive exact match: "=sensor__code" would compare UPPER()
        # of every code instead of using the unique index on the code.
        code = search_term.strip()
        if not code:
            return queryset, False
        return queryset.filter(sensor__code=code), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Reading | None = None) -> bool:
        return False

    # Readings are added only in bulk, from an archive.
    change_list_template = "admin/monitoring/reading/change_list.html"
    # Refused rows listed on the page at most; the count says how many more.
    IMPORT_ERRORS_SHOWN = 200

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("monitoring.add_reading")

    def get_urls(self) -> list[URLPattern]:
        upload = path("import/", self.admin_site.admin_view(self.import_view), name="monitoring_reading_import")
        return [upload, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_import": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        result, summary = None, ""
        if request.method == "POST":
            form = ReadingArchiveForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    result = services.readings_import(
                        file=upload, name=upload.name, kind=form.cleaned_data["format"] or None
                    )
                except ArchiveError as error:
                    form.add_error(error.field if error.field in form.fields else None, str(error))
                else:
                    summary = self._import_summary(upload.name, result)
        else:
            form = ReadingArchiveForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import readings"),
            "form": form,
            "result": result,
            "summary": summary,
            "errors_shown": result.errors[: self.IMPORT_ERRORS_SHOWN] if result else [],
            "errors_more": max(len(result.errors) - self.IMPORT_ERRORS_SHOWN, 0) if result else 0,
        }
        return TemplateResponse(request, "admin/monitoring/reading/import.html", context)

    @staticmethod
    def _import_summary(name: str, result: services.ImportResult) -> str:
        # Each count with its own noun: one sentence can be chosen by one count only.
        rows = ngettext("%(count)d row", "%(count)d rows", result.rows) % {"count": result.rows}
        stored = ngettext("%(count)d reading stored", "%(count)d readings stored", result.accepted) % {
            "count": result.accepted
        }
        return _("%(name)s: %(rows)s, %(stored)s, %(duplicates)d already stored, %(refused)d refused.") % {
            "name": name,
            "rows": rows,
            "stored": stored,
            "duplicates": result.duplicates,
            "refused": len(result.errors),
        }

    def has_delete_permission(self, request: HttpRequest, obj: Reading | None = None) -> bool:
        # Old readings leave by retention: whole days' partitions are dropped
        # (READING_RETENTION_DAYS, monitoring.partitions), not rows from here.
        return False
