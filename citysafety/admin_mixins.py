"""What the admin pages of several apps share."""

from django.http import HttpRequest


class ViewOnly:
    """An admin page or inline for rows the platform writes (deliveries,
    outages, incidents, checklists): administrators look, nobody edits.

    Put it before the admin class; it serves model admins and inlines alike.
    """

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
