"""The city's organisation: its districts, the departments that act on
warnings, and the people who work for them.

The lowest app with tables: monitoring, warning and dispatch all point here
(a sensor stands in a district and has an owner department; a work order
goes to a department), and this app knows none of them.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _


class District(models.Model):
    """An administrative district (区/县) of the city, with its boundary."""

    code = models.CharField(_("code"), max_length=12, unique=True, help_text=_("GB/T 2260 code"))
    name = models.CharField(_("name"), max_length=80)
    boundary = models.MultiPolygonField(_("boundary"), srid=4326)

    class Meta:
        ordering = ["code"]
        verbose_name = _("district")
        verbose_name_plural = _("districts")

    def __str__(self) -> str:
        return self.name


class DepartmentKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("Operating enterprise / asset owner")
    INDUSTRY = "industry", _("Industry department")
    DISTRICT_GOVERNMENT = "district_government", _("District government")
    COMMAND_OFFICE = "command_office", _("City command office")


class Department(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=DepartmentKind.choices)
    # Set for a district government: routing finds it by the sensor's district.
    district = models.OneToOneField(
        District,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="government",
        verbose_name=_("district governed"),
    )
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """The department a user works for. One department per user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="membership", verbose_name=_("user")
    )
    department = models.ForeignKey(Department, models.CASCADE, related_name="memberships", verbose_name=_("department"))

    class Meta:
        verbose_name = _("department membership")
        verbose_name_plural = _("department memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.department}"


class Shift(models.TextChoices):
    """A duty shift, in Beijing time. A night shift runs into the next morning."""

    DAY = "day", _("Day shift (08:00-20:00)")
    NIGHT = "night", _("Night shift (20:00-08:00)")
    ALL_DAY = "all_day", _("All day (00:00-24:00)")


class DutyShift(models.Model):
    """值班: who is on duty for a department (or, with none, the city centre) on one day and shift.

    Notifications go to the person on duty, escalations to the leader on
    duty; the deputy stands in for the leader.
    """

    department = models.ForeignKey(
        Department,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="duty_shifts",
        verbose_name=_("department"),
        help_text=_("Empty: the city safety operations centre."),
    )
    date = models.DateField(_("date"))
    shift = models.CharField(_("shift"), max_length=10, choices=Shift.choices, default=Shift.ALL_DAY)
    person_on_duty = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("person on duty")
    )
    leader_on_duty = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("leader on duty"),
    )
    deputy = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("deputy")
    )

    class Meta:
        ordering = ["-date", "department", "shift"]
        verbose_name = _("duty shift")
        verbose_name_plural = _("duty roster")
        constraints = [
            # One row per department, day and shift; the city centre's rows
            # (no department) are unique too, hence NULLS NOT DISTINCT.
            models.UniqueConstraint(
                fields=["department", "date", "shift"], name="duty_shift_unique", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        unit = self.department.name if self.department_id else _("City operations centre")
        return f"{unit} · {self.date} · {self.get_shift_display()}"
