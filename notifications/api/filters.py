import django_filters
from django.utils.translation import gettext_lazy as _

from citysafety.filters import StrictFilterSet
from notifications.models import LEVEL_CHOICES, Notification, NotificationKind


class NotificationFilter(StrictFilterSet):
    unread = django_filters.BooleanFilter(
        field_name="read_at",
        lookup_expr="isnull",
        help_text=_("true: only unread notifications; false: only those read"),
    )
    kind = django_filters.ChoiceFilter(choices=NotificationKind.choices, help_text=_("What the notification is about"))
    level = django_filters.ChoiceFilter(choices=LEVEL_CHOICES, help_text=_("Level, 1 the most severe"))

    class Meta:
        model = Notification
        fields = ("unread", "kind", "level")
