"""Reads about departments and people, shared by every app above this one."""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import F, Q
from django.utils import timezone

from organisation.models import Department, DutyShift, Membership, Shift
from organisation.roles import ADMINISTRATOR, DUTY_OFFICER


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


def current_shift(at: datetime) -> tuple[date, list[str]]:
    """The roster day and the shifts (most specific first) that cover the moment ``at``.

    In Beijing time: a night shift dated the 1st runs from 20:00 on the 1st
    to 08:00 on the 2nd, so at 03:00 the roster of the day before is asked.
    """
    local = timezone.localtime(at, ZoneInfo(settings.TIME_ZONE))
    if local.hour < 8:
        return local.date() - timedelta(days=1), [Shift.NIGHT, Shift.ALL_DAY]
    if local.hour >= 20:
        return local.date(), [Shift.NIGHT, Shift.ALL_DAY]
    return local.date(), [Shift.DAY, Shift.ALL_DAY]


def duty_shift_at(department_id: int | None, at: datetime) -> DutyShift | None:
    """The roster row in force for a department (None: the city centre) at a moment."""
    return duty_shifts_at([department_id], at).get(department_id)


def duty_shifts_at(department_ids: Iterable[int | None], at: datetime) -> dict[int | None, DutyShift]:
    """The roster rows in force for these departments (None: the city centre) at a moment, in one query.

    The shift of the moment (``current_shift``) if the roster has one; else
    the all-day row of the moment's own date. An all-day row covers
    00:00-24:00 of its own date only, so at 03:00 the all-day row of that
    date applies, after the night shift of the day before. A department
    with neither is left out.
    """
    ids = set(department_ids)
    if not ids:
        return {}
    day, shifts = current_shift(at)
    local_day = timezone.localtime(at, ZoneInfo(settings.TIME_ZONE)).date()
    which = Q(department_id__in=[i for i in ids if i is not None])
    if None in ids:
        which |= Q(department__isnull=True)
    rows = (
        DutyShift.objects.filter(which)
        .filter(Q(date=day, shift=shifts[0]) | Q(date=local_day, shift=Shift.ALL_DAY))
        .select_related("person_on_duty", "leader_on_duty", "deputy")
    )
    specific, all_day = {}, {}
    for row in rows.order_by("pk"):
        if row.date == day and row.shift == shifts[0]:
            specific.setdefault(row.department_id, row)
        if row.date == local_day and row.shift == Shift.ALL_DAY:
            all_day.setdefault(row.department_id, row)
    return {i: specific.get(i) or all_day[i] for i in ids if i in specific or i in all_day}


def city_centre_person_on_duty(at: datetime) -> list[AbstractBaseUser]:
    """The city centre's person on duty at a moment; with no roster row, every
    duty officer and administrator (nobody may be missed), as dispatch's
    command office rule has it."""
    shift = duty_shift_at(None, at)
    if shift is not None:
        return [shift.person_on_duty]
    return duty_officers()


def duty_officers() -> list[AbstractBaseUser]:
    """Every active duty officer and administrator: who hears of a city matter when no roster names anyone."""
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[DUTY_OFFICER, ADMINISTRATOR])
        .distinct()
        .order_by("pk")
    )


def roster_of_day(day: date) -> list[DutyShift]:
    """Every roster row of a day, the city centre first, then by department."""
    return list(
        DutyShift.objects.filter(date=day)
        .select_related("department", "person_on_duty", "leader_on_duty", "deputy")
        .order_by(F("department__kind").asc(nulls_first=True), "department__code", "shift")
    )


def department_member_ids(department_id: int) -> list[int]:
    return list(Membership.objects.filter(department_id=department_id).values_list("user_id", flat=True))
