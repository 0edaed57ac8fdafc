import django_filters
from django.utils.translation import gettext_lazy as _

from warning.models import Level, Warning, WarningStatus


class WarningFilter(django_filters.FilterSet):
    level = django_filters.MultipleChoiceFilter(choices=Level.choices)
    status = django_filters.ChoiceFilter(
        choices=[*WarningStatus.choices, ("open", _("Open (active or recovered)"))],
        method="filter_status",
    )
    domain = django_filters.CharFilter(field_name="sensor__sensor_type__domain__code", help_text=_("Risk domain code"))
    district = django_filters.CharFilter(field_name="sensor__district__code", help_text=_("District code"))
    sensor = django_filters.CharFilter(field_name="sensor__code", help_text=_("Sensor code"))

    class Meta:
        model = Warning
        fields = ["level", "status", "domain", "district", "sensor"]

    def filter_status(self, queryset, name, value):
        if value == "open":
            return queryset.exclude(status=WarningStatus.CLOSED)
        return queryset.filter(status=value)
