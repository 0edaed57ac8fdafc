"""API permissions by role, for the apps above that serve an API."""

from django.utils.translation import gettext_lazy
from rest_framework import permissions

from organisation.roles import is_duty_officer


class IsDutyOfficer(permissions.BasePermission):
    message = gettext_lazy("Only duty officers and administrators may do this.")

    def has_permission(self, request, view) -> bool:
        return is_duty_officer(request.user)
