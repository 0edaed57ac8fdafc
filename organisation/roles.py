"""The people who use the platform, as Django groups.

Group names are data shared by every app (the groups were created by
dispatch's migration 0003, before this app existed); the department a person
works for is ``organisation.selectors.department_of``.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

DUTY_OFFICER = "duty_officer"
DEPARTMENT_STAFF = "department_staff"
ADMINISTRATOR = "administrator"

ROLE_GROUPS = (DUTY_OFFICER, DEPARTMENT_STAFF, ADMINISTRATOR)


def has_role(user: AbstractBaseUser | AnonymousUser, group: str) -> bool:
    if not user.is_authenticated:
        return False
    names = getattr(user, "_role_names", None)
    if names is None:
        names = set(user.groups.values_list("name", flat=True))
        user._role_names = names
    return group in names


def is_duty_officer(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Duty officers, administrators and superusers see the whole city."""
    return user.is_authenticated and (
        user.is_superuser or has_role(user, DUTY_OFFICER) or has_role(user, ADMINISTRATOR)
    )
