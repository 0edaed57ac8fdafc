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
