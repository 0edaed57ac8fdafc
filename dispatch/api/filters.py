import django_filters

from dispatch.models import FINISHED_STATUSES, WorkOrder, WorkOrderStatus


class WorkOrderFilter(django_filters.FilterSet):
    # No DISTINCT (the default): nothing is joined, and DISTINCT would sort every matching order.
    status = django_filters.MultipleChoiceFilter(choices=WorkOrderStatus.choices, distinct=False)
    warning = django_filters.NumberFilter(field_name="warning_id")
    open = django_filters.BooleanFilter(method="filter_open")
    department = django_filters.NumberFilter(field_name="department_id")

    class Meta:
        model = WorkOrder
        fields = ["status", "warning", "is_overdue", "open", "department"]

    def filter_open(self, queryset, name, value):
        # A transferred order is history for its old department, as a closed one is.
        finished = {"status__in": FINISHED_STATUSES}
        return queryset.exclude(**finished) if value else queryset.filter(**finished)
