"""What the city has around a warning: protection targets, emergency resources, risk areas, cameras.

City reference data, kept by administrators and imported from the offices'
sheets. Each row has a ``code``, its natural key: a second import of the
same sheet updates rows in place and creates nothing. Geometries are WGS 84
(SRID 4326) with GiST indexes; the distance questions of a warning's
surroundings ("within 500 m") are asked in metres on the geography type
(``surroundings.selectors``), which an expression index on each geometry's
geography cast serves (migration 0002).
"""

from django.contrib.gis.db import models
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from organisation.models import District
from surroundings.choices import ResourceKind, RiskAreaKind, RiskGrade, TargetKind


class Place(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True, help_text=_("The key a re-import finds the row by."))
    name = models.CharField(_("name"), max_length=200)
    district = models.ForeignKey(
        District, verbose_name=_("district"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    contact_name = models.CharField(_("contact"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=50, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ProtectionTarget(Place):
    """防护目标: a school, hospital, nursing home, shelter or crowded place."""

    kind = models.CharField(_("kind"), max_length=20, choices=TargetKind.choices)
    location = models.PointField(_("location"), srid=4326)
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True, help_text=_("People it holds."))

    class Meta(Place.Meta):
        verbose_name = _("protection target")
        verbose_name_plural = _("protection targets")


class EmergencyResource(Place):
    """应急资源: a rescue team, a supply depot, an expert or a piece of equipment."""

    kind = models.CharField(_("kind"), max_length=20, choices=ResourceKind.choices)
    location = models.PointField(_("location"), srid=4326)
    team_size = models.PositiveIntegerField(_("team size"), null=True, blank=True)
    speciality = models.CharField(_("speciality"), max_length=200, blank=True)
    # A depot's stock, item name → quantity (whole units as the depot counts them).
    stock = models.JSONField(_("stock"), default=dict, blank=True)

    class Meta(Place.Meta):
        verbose_name = _("emergency resource")
        verbose_name_plural = _("emergency resources")


class RiskArea(Place):
    """A hazard source or a risk zone of the four-colour risk map, with its assessed grade."""

    kind = models.CharField(_("kind"), max_length=20, choices=RiskAreaKind.choices)
    grade = models.PositiveSmallIntegerField(_("risk grade"), choices=RiskGrade.choices)
    assessed_on = models.DateField(_("assessed on"))
    # Stored with the outer rings counter-clockwise (RFC 7946), whatever the file had.
    boundary = models.MultiPolygonField(_("boundary"), srid=4326)

    class Meta(Place.Meta):
        verbose_name = _("risk area")
        verbose_name_plural = _("risk areas")


# The server stores a stream's address and never fetches it: only the
# duty officer's browser plays it. A code of its own: a field replaces the
# message of an "invalid" error with its generic "Enter a valid URL.".
stream_url_validator = URLValidator(
    schemes=["http", "https"], message=_("Give an http:// or https:// address."), code="stream_scheme"
)


class Camera(Place):
    location = models.PointField(_("location"), srid=4326)
    stream_url = models.URLField(
        _("HLS stream URL"), max_length=500, validators=[stream_url_validator], help_text=_("An .m3u8 address.")
    )

    class Meta(Place.Meta):
        verbose_name = _("camera")
        verbose_name_plural = _("cameras")


LAYERS = {
    "targets": ProtectionTarget,
    "resources": EmergencyResource,
    "risk-areas": RiskArea,
    "cameras": Camera,
}
