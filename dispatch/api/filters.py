import django_filters
from django.utils.translation import gettext_lazy as _

from citysafety.filters import IdFilter, StrictFilterSet
from dispatch.models import FINISHED_STATUSES, WorkOrder, WorkOrderStatus


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
        # A transferred order is history for its old department, as a closed one is.
        finished = {"status__in": FINISHED_STATUSES}
        return queryset.exclude(**finished) if value else queryset.filter(**finished)
