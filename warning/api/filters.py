import django_filters
from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citysafety.filters import StrictFilterSet
from warning import selectors
from warning.models import Level, Warning, WarningStatus


class OpenedRangeForm(forms.Form):
    def clean(self) -> dict:
        cleaned = super().clean()
        after, before = cleaned.get("opened_after"), cleaned.get("opened_before")
        # Equal bounds are an empty range, [t, t), answered with no warning;
        # the schema allows them. Only a range that runs backwards is a mistake.
        if after is not None and before is not None and before < after:
            self.add_error(
                "opened_before",
                _("opened_before (%(before)s) must not come before opened_after (%(after)s): no warning lies between.")
                % {"before": before.isoformat(), "after": after.isoformat()},
            )
        return cleaned


class WarningFilter(StrictFilterSet):
    """The warning list's filters; the closed-warning search uses the same ones.

    Filters on the sensor (its district, domain, code or name) pick the
    sensors first and keep the warnings whose sensor is among them
    (``selectors.warnings_of_sensors``): the list then walks its own
    (level, opened_at, id) or (opened_at, id) index and joins nothing.
    """

    # No DISTINCT (the default): the filter joins nothing, and DISTINCT would
    # make the database gather and sort every matching row before the page.
    level = django_filters.MultipleChoiceFilter(
        choices=Level.choices,
        distinct=False,
        help_text=gettext_lazy("Level, 1 the most severe; repeat the parameter for several (level=1&level=2)"),
    )
    status = django_filters.ChoiceFilter(
        choices=[*WarningStatus.choices, ("open", gettext_lazy("Open (active or recovered)"))],
        method="filter_status",
        help_text=gettext_lazy("Status; open: active or recovered"),
    )
    domain = django_filters.CharFilter(method="filter_sensors", help_text=gettext_lazy("Risk domain code"))
    district = django_filters.CharFilter(method="filter_sensors", help_text=gettext_lazy("District code"))
    sensor = django_filters.CharFilter(method="filter_sensors", help_text=gettext_lazy("Sensor code"))
    search = django_filters.CharFilter(
        method="filter_sensors", max_length=100, help_text=gettext_lazy("Part of the sensor's code or name")
    )
    opened_after = django_filters.IsoDateTimeFilter(
        field_name="opened_at",
        lookup_expr="gte",
        help_text=gettext_lazy(
            "Opened at or after: ISO 8601 date and time with its zone, e.g. 2026-11-21T08:00:00+08:00"
        ),
    )
    opened_before = django_filters.IsoDateTimeFilter(
        field_name="opened_at",
        lookup_expr="lt",
        help_text=gettext_lazy(
            "Opened before: ISO 8601 date and time with its zone, not before opened_after (equal: an empty range)"
        ),
    )

    class Meta:
        model = Warning
        form = OpenedRangeForm
        fields = ["level", "status", "domain", "district", "sensor", "search", "opened_after", "opened_before"]

    def filter_status(self, queryset, name, value):
        if value == "open":
            return queryset.exclude(status=WarningStatus.CLOSED)
        return queryset.filter(status=value)

    SENSOR_FILTERS = ("domain", "district", "sensor", "search")

    def filter_sensors(self, queryset, name, value):
        return queryset  # all at once in filter_queryset: one choice of sensors, not one per filter

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        chosen = {name: self.form.cleaned_data.get(name) for name in self.SENSOR_FILTERS}
        chosen = {name: value for name, value in chosen.items() if value not in (None, "")}
        return selectors.warnings_of_sensors(queryset, **chosen) if chosen else queryset


class ClosedWarningFilter(WarningFilter):
    """The closed-warning search: the list's filters, its status fixed (any other is a mistake, said so)."""

    status = django_filters.ChoiceFilter(
        choices=[(WarningStatus.CLOSED.value, WarningStatus.CLOSED.label)],
        method="filter_status",
        help_text=gettext_lazy("This search lists closed warnings only"),
    )
