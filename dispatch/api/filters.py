import django_filters

from dispatch.models import WorkOrder, WorkOrderStatus


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
        closed = {"status": WorkOrderStatus.CLOSED}
        return queryset.exclude(**closed) if value else queryset.filter(**closed)
