"""Reads about departments and people, shared by every app above this one."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from organisation.models import Department, Membership


def department_id_of(user: AbstractBaseUser | AnonymousUser) -> int | None:
    """The id of the department the user works for (cached on the user object)."""
    if not user.is_authenticated:
        return None
    cached = getattr(user, "_department_id", False)
    if cached is False:
        cached = Membership.objects.filter(user_id=user.pk).values_list("department_id", flat=True).first()
        user._department_id = cached
    return cached


def department_of(user: AbstractBaseUser | AnonymousUser) -> Department | None:
    department_id = department_id_of(user)
    return Department.objects.filter(pk=department_id).first() if department_id else None


def government_of_district(district_id: int) -> Department | None:
    """The district government (属地政府) routing sends a district's warnings to."""
    return Department.objects.filter(district_id=district_id).first()
