import django_filters
from django.utils.translation import gettext_lazy as _

from warning import selectors
from warning.models import Level, Warning, WarningStatus


class WarningFilter(django_filters.FilterSet):
    """The warning list's filters; the closed-warning search uses the same ones.

    Filters on the sensor (its district, domain, code or name) pick the
    sensors first and keep the warnings whose sensor is among them
    (``selectors.warnings_of_sensors``): the list then walks its own
    (level, opened_at, id) or (opened_at, id) index and joins nothing.
    """

    # No DISTINCT (the default): the filter joins nothing, and DISTINCT would
    # make the database gather and sort every matching row before the page.
    level = django_filters.MultipleChoiceFilter(choices=Level.choices, distinct=False)
    status = django_filters.ChoiceFilter(
        choices=[*WarningStatus.choices, ("open", _("Open (active or recovered)"))],
        method="filter_status",
    )
    domain = django_filters.CharFilter(method="filter_sensors", help_text=_("Risk domain code"))
    district = django_filters.CharFilter(method="filter_sensors", help_text=_("District code"))
    sensor = django_filters.CharFilter(method="filter_sensors", help_text=_("Sensor code"))
    search = django_filters.CharFilter(
        method="filter_sensors", max_length=100, help_text=_("Part of the sensor's code or name")
    )
    opened_after = django_filters.IsoDateTimeFilter(
        field_name="opened_at", lookup_expr="gte", help_text=_("Opened at or after (ISO 8601)")
    )
    opened_before = django_filters.IsoDateTimeFilter(
        field_name="opened_at", lookup_expr="lt", help_text=_("Opened before (ISO 8601)")
    )

    class Meta:
        model = Warning
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
