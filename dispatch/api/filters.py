import django_filters
from django.utils.translation import gettext_lazy as _

from citysafety.filters import IdFilter, StrictFilterSet
from dispatch.models import WorkOrder, WorkOrderStatus


class WorkOrderFilter(StrictFilterSet):
    # No DISTINCT (the default): nothing is joined, and DISTINCT would sort every matching order.
    status = django_filters.MultipleChoiceFilter(
        choices=WorkOrderStatus.choices,
        distinct=False,
        help_text=_("Status; repeat the parameter for several (status=pending&status=acknowledged)"),
    )
    warning = IdFilter(field_name="warning_id", help_text=_("The warning's id"))
    is_overdue = django_filters.BooleanFilter(help_text=_("true: past the acknowledgement deadline; false: not"))
    open = django_filters.BooleanFilter(method="filter_open", help_text=_("true: not closed; false: closed"))
    department = IdFilter(field_name="department_id", help_text=_("The department's id"))

    class Meta:
        model = WorkOrder
        fields = ["status", "warning", "is_overdue", "open", "department"]

    def filter_open(self, queryset, name, value):
        closed = {"status": WorkOrderStatus.CLOSED}
        return queryset.exclude(**closed) if value else queryset.filter(**closed)
