"""The people who use the platform, as Django groups.

Group names are data shared by every app (the groups were created by
dispatch's migration 0003, before this app existed); the department a person
works for is ``organisation.selectors.department_of``.
"""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
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


def roles_load(users: Iterable[AbstractBaseUser]) -> None:
    """Read the roles of many people in one query, as ``has_role`` keeps them on each (for ``is_duty_officer``)."""
    unknown = {user.pk: user for user in users if getattr(user, "_role_names", None) is None}
    if not unknown:
        return
    names: dict[int, set[str]] = {pk: set() for pk in unknown}
    through = get_user_model().groups.through
    for user_id, name in through.objects.filter(user_id__in=unknown).values_list("user_id", "group__name"):
        names[user_id].add(name)
    for pk, user in unknown.items():
        user._role_names = names[pk]


def is_duty_officer(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Duty officers, administrators and superusers see the whole city."""
    return user.is_authenticated and (
        user.is_superuser or has_role(user, DUTY_OFFICER) or has_role(user, ADMINISTRATOR)
    )
