"""Admin for threshold rules and (read-only) warnings.

Threshold rules are edited inline on their sensor type or sensor too. Those
admins belong to monitoring, which must not import warning, so this module
subclasses them, adds the rule inlines and registers the subclasses in their
place. Importing ``monitoring.admin`` first guarantees the originals are
registered before they are replaced, whatever the order of INSTALLED_APPS.
Subclassing keeps monitoring's admin complete on its own and leaves one
place, this module, that knows about both apps.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from citysafety.admin_mixins import ViewOnly
from citysafety.errors import DomainError
from monitoring import admin as monitoring_admin
from monitoring.models import Sensor, SensorType
from warning import backtest, selectors, verification
from warning.models import (
    Direction,
    FalseAlarmReason,
    GatewayOutage,
    Incident,
    Level,
    RuleKind,
    Silence,
    ThresholdRule,
    Warning,
    WarningTransition,
)


def level_badge(level: int | None) -> str:
    if level is None:
        return "-"
    choice = Level(level)
    # The badge sets its own text colour, so it reads on the admin's light and dark themes alike.
    return format_html(
        '<span style="background:{};color:{};padding:1px 6px;border-radius:3px;white-space:nowrap">{}</span>',
        choice.colour.hex,
        choice.colour.text,
        choice.label,
    )


class ThresholdRuleForm(forms.ModelForm):
    """Every message names what to change, on the field to change where there is one.

    ``ThresholdRule.clean()`` puts threshold-order errors on the threshold to
    change. Model validation then also runs the check constraints behind
    ``clean()``: "type xor sensor" would repeat ``clean()``'s message as the
    generic "Constraint … is violated", so that one message is dropped (the
    database still enforces the constraint), and a negative dead band is
    caught on its field before the constraint sees it.
    """

    class Meta:
        model = ThresholdRule
        fields = (
            "name",
            "is_active",
            "sensor_type",
            "sensor",
            "kind",
            "direction",
            "level3_threshold",
            "level2_threshold",
            "level1_threshold",
            "level3_lower_threshold",
            "level2_lower_threshold",
            "level1_lower_threshold",
            "dead_band",
            "hold_seconds",
            "hold_readings",
            "rate_window_seconds",
            "rate_in_percent",
            "no_data_seconds",
            "no_data_level",
        )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            # A rule posted without a kind (an older form, a script) is a threshold rule.
            self.fields["kind"].required = False

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or RuleKind.THRESHOLD

    def clean_dead_band(self) -> float | None:
        dead_band = self.cleaned_data.get("dead_band")
        if dead_band is not None and dead_band < 0:
            raise forms.ValidationError(_("The dead band cannot be negative: enter 0 for none, or a positive margin."))
        return dead_band


_THRESHOLD_FIELDS = ("direction", "level3_threshold", "level2_threshold", "level1_threshold", "dead_band")
_BAND_FIELDS = ("level3_lower_threshold", "level2_lower_threshold", "level1_lower_threshold")
_KIND_FIELDS = (
    "hold_seconds",
    "hold_readings",
    "rate_window_seconds",
    "rate_in_percent",
    "no_data_seconds",
    "no_data_level",
)


class _RuleInline(admin.TabularInline):
    model = ThresholdRule
    form = ThresholdRuleForm
    fields = ("name", "kind", *_THRESHOLD_FIELDS, *_BAND_FIELDS, *_KIND_FIELDS, "is_active")
    extra = 0


class SensorTypeRuleInline(_RuleInline):
    fk_name = "sensor_type"
    verbose_name = _("threshold rule on every sensor of this type")
    verbose_name_plural = _("threshold rules on every sensor of this type")


class SensorRuleInline(_RuleInline):
    fk_name = "sensor"
    verbose_name = _("threshold rule of this sensor (overrides its type's rules)")
    verbose_name_plural = _("threshold rules of this sensor (override its type's rules)")


admin.site.unregister(SensorType)


@admin.register(SensorType)
class SensorTypeAdmin(monitoring_admin.SensorTypeAdmin):
    inlines = (*monitoring_admin.SensorTypeAdmin.inlines, SensorTypeRuleInline)


class SensorWarningLevelFilter(admin.SimpleListFilter):
    title = _("warning level")
    parameter_name = "warning_level"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [*((str(value), label) for value, label in Level.choices), ("none", _("No open warning"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Sensor]) -> QuerySet[Sensor]:
        value = self.value()
        if value == "none":
            return queryset.filter(warning_level__isnull=True)
        if value in {str(v) for v in Level.values}:
            return queryset.filter(warning_level=int(value))
        return queryset


admin.site.unregister(Sensor)


@admin.register(Sensor)
class SensorAdmin(monitoring_admin.SensorAdmin):
    inlines = (*monitoring_admin.SensorAdmin.inlines, SensorRuleInline)
    list_filter = tuple(
        SensorWarningLevelFilter if f == "warning_level" else f for f in monitoring_admin.SensorAdmin.list_filter
    )

    @admin.display(description=_("warning level"), ordering="warning_level")
    def warning_level_display(self, obj: Sensor) -> str:
        return level_badge(obj.warning_level)


class RuleScopeFilter(admin.SimpleListFilter):
    title = _("applies to")
    parameter_name = "scope"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("type", _("Every sensor of a type")), ("sensor", _("One sensor (override)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ThresholdRule]) -> QuerySet[ThresholdRule]:
        if self.value() == "type":
            return queryset.filter(sensor__isnull=True)
        if self.value() == "sensor":
            return queryset.filter(sensor__isnull=False)
        return queryset


@admin.register(ThresholdRule)
class ThresholdRuleAdmin(admin.ModelAdmin):
    form = ThresholdRuleForm
    list_display = (
        "name",
        "sensor_type",
        "sensor",
        "kind",
        "direction",
        "level3_threshold",
        "level2_threshold",
        "level1_threshold",
        "dead_band",
        "is_active",
        "false_alarm_rate",
    )
    list_filter = ("is_active", RuleScopeFilter, "kind", "direction", "sensor_type__domain", "sensor_type")
    list_select_related = ("sensor_type", "sensor")
    search_fields = ("name", "sensor_type__code", "sensor_type__name", "=sensor__code")
    autocomplete_fields = ("sensor_type", "sensor")
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        (
            _("Applies to"),
            {
                "fields": ("sensor_type", "sensor"),
                "description": _(
                    "Choose a sensor type for a rule on every sensor of that type, or one sensor for a rule "
                    "that overrides its type's rules — not both."
                ),
            },
        ),
        (
            _("Kind"),
            {
                "fields": ("kind",),
                "description": _(
                    "A value against thresholds (above, below, or outside a band); a rate of change over a window "
                    "(thresholds are the change: a rise for “above”, a fall for “below”); or no data "
                    "(a sensor silent too long). Fill only the sections of the kind chosen."
                ),
            },
        ),
        (
            _("Thresholds"),
            {
                "fields": _THRESHOLD_FIELDS,
                "description": _(
                    "Level I is the most severe. For an upper limit Level III < Level II < Level I; "
                    "for a lower limit Level III > Level II > Level I."
                ),
            },
        ),
        (
            _("Band (direction “outside”)"),
            {
                "fields": _BAND_FIELDS,
                "description": _(
                    "The band's low side: Level III > Level II > Level I, all below the Level III threshold above. "
                    "The dead band applies on both sides."
                ),
            },
        ),
        (
            _("Duration"),
            {
                "fields": ("hold_seconds", "hold_readings"),
                "description": _(
                    "Optional: the condition must hold this many seconds, or this many readings in a row, before the "
                    "warning opens or escalates. Not for no-data rules."
                ),
            },
        ),
        (_("Rate of change"), {"fields": ("rate_window_seconds", "rate_in_percent")}),
        (_("No data"), {"fields": ("no_data_seconds", "no_data_level")}),
    )

    change_form_template = "admin/warning/thresholdrule/change_form.html"
    change_list_template = "admin/warning/thresholdrule/change_list.html"

    def get_urls(self):
        backtest_view = self.admin_site.admin_view(self.backtest_view)
        noisy_view = self.admin_site.admin_view(self.noisy_sensors_view)
        return [
            path("backtest/", backtest_view, name="warning_thresholdrule_backtest"),
            path("noisy-sensors/", noisy_view, name="warning_thresholdrule_noisy_sensors"),
            *super().get_urls(),
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ThresholdRule]:
        # Per row, by the (rule, verification) index: evaluated for the page's rules only.
        return verification.with_verdict_counts(super().get_queryset(request))

    @admin.display(description=_("false alarms"))
    def false_alarm_rate(self, obj: ThresholdRule) -> str:
        verified = getattr(obj, "verdicts", 0)
        if not verified:
            return "-"
        counts = verification.VerdictCounts(verified, obj.false_alarms)
        return gettext("%(rate)s (%(false)d of %(verified)d verified)") % {
            "rate": f"{counts.rate:.0%}",
            "false": counts.false_alarms,
            "verified": counts.verified,
        }

    def noisy_sensors_view(self, request: HttpRequest) -> HttpResponse:
        """The sensors duty officers most often found false, to tune their thresholds by."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        reasons = dict(FalseAlarmReason.choices)
        rows = [
            {
                **row,
                "rate": f"{row['rate']:.0%}",
                "reasons": [(reasons.get(code, code), n) for code, n in sorted(row["reasons"].items())],
            }
            for row in verification.noisiest_sensors(limit=NOISY_SENSORS_LISTED)
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Sensors with the most false alarms"),
            "rows": rows,
            "listed": NOISY_SENSORS_LISTED,
        }
        return TemplateResponse(request, "admin/warning/thresholdrule/noisy_sensors.html", context)

    def render_change_form(self, request: HttpRequest, context: dict, *args, **kwargs) -> HttpResponse:
        context["backtest_max_days"] = settings.BACKTEST_MAX_DAYS
        return super().render_change_form(request, context, *args, **kwargs)

    def backtest_view(self, request: HttpRequest) -> HttpResponse:
        """The change form, posted here instead of saved: what the rule as
        edited would have raised over the stored readings, beside the rule
        as saved. Nothing is written."""
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:warning_thresholdrule_changelist"))
        current = None
        if rule_id := request.GET.get("rule"):
            current = self.get_object(request, rule_id)
            if current is None:
                raise Http404(gettext("No threshold rule with id %(id)s.") % {"id": rule_id})
        allowed = self.has_change_permission(request, current) if current else self.has_add_permission(request)
        if not allowed:
            raise PermissionDenied
        # The form edits a copy: the saved rule stays as it is for the comparison.
        editable = ThresholdRule.objects.get(pk=current.pk) if current else None
        form = self.get_form(request, current, change=current is not None)(request.POST, instance=editable)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Backtest of %(rule)s") % {"rule": current or gettext("a new rule")},
            "original": current,
            "form": form,
        }
        try:
            days = int(request.POST.get("backtest_days", "7"))
        except ValueError:
            context["error"] = gettext("Enter the number of days to backtest as a whole number.")
            return TemplateResponse(request, "admin/warning/thresholdrule/backtest.html", context)
        context["days"] = days
        if not form.is_valid():
            context["form_errors"] = [
                (form.fields[name].label if name in form.fields else "", message)
                for name, messages in form.errors.items()
                for message in messages
            ]
        else:
            proposed = form.save(commit=False)
            try:
                result = backtest.rule_backtest(proposed=proposed, current=current, days=days)
            except DomainError as error:
                context["error"] = str(error)
            else:
                context.update(backtest_context(result, proposed=proposed, current=current))
        return TemplateResponse(request, "admin/warning/thresholdrule/backtest.html", context)


BACKTEST_LISTED = 200
NOISY_SENSORS_LISTED = 50


def backtest_replayed_as(rule: ThresholdRule) -> str:
    """How the backtest replays a rule of its kind, in a sentence or two."""
    if rule.kind == RuleKind.NO_DATA:
        return gettext(
            "No data: a sensor silent for more than %(seconds)s s, between two readings or until the end of the "
            "window, gets a warning at %(level)s from the moment it passed that; its next reading recovers it."
        ) % {"seconds": rule.no_data_seconds, "level": Level(rule.no_data_level).label}
    if rule.kind == RuleKind.RATE:
        said = (
            gettext("Rate of change: each reading's rise above the lowest reading of the %(seconds)s s up to it.")
            if rule.direction == Direction.ABOVE
            else gettext("Rate of change: each reading's fall below the highest reading of the %(seconds)s s up to it.")
        ) % {"seconds": rule.rate_window_seconds}
        if rule.rate_in_percent:
            said += " " + gettext("The change is in percent of that reading.")
    else:
        said = gettext("Value against thresholds: a warning opens at the first reading at Level III or worse.")
    if rule.hold_readings:
        said += " " + ngettext(
            "A level opens or escalates the warning only once %(count)s reading in a row reached it.",
            "A level opens or escalates the warning only once %(count)s readings in a row reached it.",
            rule.hold_readings,
        ) % {"count": rule.hold_readings}
    elif rule.hold_seconds:
        said += " " + gettext(
            "A level opens or escalates the warning only once the readings stayed at it for %(seconds)s s."
        ) % {"seconds": rule.hold_seconds}
    return said


def backtest_context(result: backtest.Backtest, *, proposed: ThresholdRule, current: ThresholdRule | None) -> dict:
    """What the backtest page shows: how each rule is replayed, counts per
    level side by side, then the warnings that differ and those the changed
    rule raises (each list cut at BACKTEST_LISTED)."""
    codes = result.sensors

    def peak(rule: ThresholdRule, w: backtest.RaisedWarning) -> str:
        if w.silent_since is not None:
            moment = timezone.localtime(w.silent_since).strftime("%Y-%m-%d %H:%M:%S")
            return gettext("silent since %(at)s") % {"at": moment}
        if rule.kind == RuleKind.RATE and rule.rate_in_percent:
            return f"{w.peak_value:.4g} %"
        return f"{w.peak_value:.6g}"

    def rows(rule: ThresholdRule, warnings: list[backtest.RaisedWarning]) -> list[dict]:
        return [
            {
                "sensor": codes.get(w.sensor_id, w.sensor_id),
                "opened_at": w.opened_at,
                "recovered_at": w.recovered_at,
                "peak": level_badge(w.peak_level),
                "peak_value": peak(rule, w),
                "reached": [(level_badge(level), at) for level, at in sorted(w.reached_at.items(), reverse=True)],
            }
            for w in sorted(warnings, key=lambda w: (w.opened_at, w.sensor_id))[:BACKTEST_LISTED]
        ]

    proposed_counts = result.proposed.count_by_peak_level()
    current_counts = result.current.count_by_peak_level() if result.current else None
    return {
        "result": result,
        "proposed_replayed_as": backtest_replayed_as(proposed),
        "current_replayed_as": backtest_replayed_as(current) if result.current is not None else None,
        # A saved rule whose settings contradict each other (saved before they were checked).
        "current_left_out": current is not None and result.current is None,
        "levels": [
            {
                "badge": level_badge(level),
                "proposed": proposed_counts[level],
                "current": current_counts[level] if current_counts else None,
            }
            for level in backtest.LEVELS
        ],
        "proposed_total": len(result.proposed.warnings),
        "current_total": len(result.current.warnings) if result.current else None,
        "only_proposed": rows(proposed, result.only_proposed),
        "only_proposed_total": len(result.only_proposed),
        "only_current": rows(current, result.only_current) if result.current is not None else [],
        "only_current_total": len(result.only_current),
        "proposed_rows": rows(proposed, result.proposed.warnings),
        "listed": BACKTEST_LISTED,
    }


class WarningTransitionInline(admin.TabularInline):
    model = WarningTransition
    fields = ("created_at", "kind", "from_level", "to_level", "value", "observed_at", "actor", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[WarningTransition]:
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Warning | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Warning | None = None) -> bool:
        return False


@admin.register(Warning)
class WarningAdmin(admin.ModelAdmin):
    """Read-only: a warning's level and status change only in warning/transitions.py.

    Opening, escalation and recovery come from rule evaluation; closing is the
    duty officer's act on the warning page, with a disposal report.
    """

    list_display = (
        "id",
        "level_display",
        "status",
        "is_historical",
        "sensor",
        "rule",
        "opened_at",
        "last_value",
        "last_observed_at",
    )
    list_filter = (
        "level",
        "status",
        "verification",
        "false_alarm_reason",
        "is_historical",
        "sensor__sensor_type__domain",
        ("sensor__district", monitoring_admin.DistrictListFilter),
    )
    list_select_related = ("sensor", "rule")
    search_fields = ("=sensor__code",)
    search_help_text = _("Exact sensor code.")
    inlines = (WarningTransitionInline,)
    fieldsets = (
        (None, {"fields": ("sensor", "rule", "level", "status")}),
        (
            _("Readings"),
            {
                "fields": (
                    "opened_at",
                    "thresholds_at_opening",
                    "first_value",
                    "peak_value",
                    "last_value",
                    "last_observed_at",
                )
            },
        ),
        (
            _("Recovery and closing"),
            {"fields": ("recovered_at", "closed_at", "closed_by", "disposal_note", "is_historical")},
        ),
        (
            _("Verification"),
            {
                "fields": (
                    "verification",
                    "verification_requested_at",
                    "verified_at",
                    "verified_by",
                    "false_alarm_reason",
                )
            },
        ),
        (_("Flapping and incident"), {"fields": ("is_flapping", "flapping_since", "incident")}),
    )

    readonly_fields = ("thresholds_at_opening",)

    @admin.display(description=_("level"), ordering="level")
    def level_display(self, obj: Warning) -> str:
        return level_badge(obj.level)

    @admin.display(description=_("Thresholds when it opened"))
    def thresholds_at_opening(self, obj: Warning) -> str:
        """The rule's thresholds in force at opening (from the audit trail), which the rule's page may no longer show."""
        stood = selectors.thresholds_in_force(obj.rule, obj.opened_at)
        levels = " · ".join(
            f"{numeral} {stood[f'level{level}_threshold']}"
            for level, numeral in ((3, "III"), (2, "II"), (1, "I"))
            if stood[f"level{level}_threshold"] is not None
        )
        if stood["changed_since"]:
            return gettext("%(levels)s (the rule has changed since)") % {"levels": levels}
        return levels

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Warning | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Warning | None = None) -> bool:
        # Removing a warning removes its history and work orders: a superuser's
        # cleanup of test data only, never part of running the city.
        return request.user.is_superuser and super().has_delete_permission(request, obj)


# RuleState is evaluation bookkeeping (a lock row and a watermark), not
# something an administrator configures or reads: it is not registered.


@admin.register(GatewayOutage)
class GatewayOutageAdmin(ViewOnly, admin.ModelAdmin):
    """Read-only: the no-data sweep opens and ends outages."""

    list_display = ("gateway", "level_display", "status", "silent_sensors", "opened_at", "last_seen_at", "recovered_at")
    list_filter = ("status", "level")
    list_select_related = ("gateway",)
    search_fields = ("=gateway__code",)

    @admin.display(description=_("level"), ordering="level")
    def level_display(self, obj: GatewayOutage) -> str:
        return level_badge(obj.level)


class SilenceForm(forms.ModelForm):
    class Meta:
        model = Silence
        fields = ("sensor", "gateway", "district", "sensor_type", "reason", "starts_at", "ends_at")


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    """Maintenance windows. Ending one early is the "End now" of the silences page
    (or a shorter expiry here); the sweep then evaluates what it held back."""

    form = SilenceForm
    list_display = ("id", "target_display", "reason", "created_by", "starts_at", "ends_at", "ended_by", "in_force")
    list_select_related = ("sensor", "gateway", "district", "sensor_type", "created_by", "ended_by")
    list_filter = ("starts_at", "ends_at")
    search_fields = ("reason", "=sensor__code", "=gateway__code", "=district__code", "=sensor_type__code")
    autocomplete_fields = ("sensor", "gateway", "district", "sensor_type")
    readonly_fields = ("created_by", "created_at", "ended_by", "lifted_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Silence]:
        return super().get_queryset(request).defer("district__boundary")

    @admin.display(description=_("covers"))
    def target_display(self, obj: Silence) -> str:
        return f"{obj.target_kind}: {obj.target}"

    @admin.display(description=_("in force"), boolean=True)
    def in_force(self, obj: Silence) -> bool:
        return obj.is_in_force()

    def save_model(self, request: HttpRequest, obj: Silence, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        elif obj.ends_at > timezone.now():
            # Extended after it ended: the sweep lifts it again at its new end.
            obj.lifted_at = None
        super().save_model(request, obj, form, change)


class IncidentMemberInline(admin.TabularInline):
    model = Warning
    fk_name = "incident"
    fields = ("id", "sensor", "level", "status", "opened_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(ViewOnly, admin.ModelAdmin):
    """Read-only: incidents form as warnings open (warning.incidents)."""

    list_display = ("id", "primary", "asset", "opened_at", "handed_over_at", "closed_at")
    list_filter = ("opened_at", "closed_at")
    list_select_related = ("primary__sensor", "asset")
    readonly_fields = (
        "primary",
        "asset",
        "opened_at",
        "handed_over_from",
        "handed_over_reason",
        "handed_over_at",
        "closed_at",
    )
    inlines = (IncidentMemberInline,)
