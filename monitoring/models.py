import hashlib
import secrets
from enum import nonmember

from django.contrib.gis.db import models
from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext_lazy as _

from citysafety.choices import SLATE, STEEL, TEAL, ChoiceSet
from organisation.models import Department, District


class RiskCategory(models.TextChoices):
    LIFELINE = "lifeline", _("Urban lifelines")
    PRODUCTION = "production", _("Production safety")
    NATURAL = "natural", _("Natural disasters")
    PUBLIC = "public", _("Public safety")


class RiskDomain(models.Model):
    """A field of urban risk: gas, water supply, bridges, slopes, …"""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    category = models.CharField(_("category"), max_length=20, choices=RiskCategory.choices)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("risk domain")
        verbose_name_plural = _("risk domains")

    def __str__(self) -> str:
        return self.name


class SensorType(models.Model):
    """What a sensor measures: one metric in one unit, within one risk domain."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    domain = models.ForeignKey(RiskDomain, models.PROTECT, related_name="sensor_types", verbose_name=_("risk domain"))
    metric = models.CharField(_("metric"), max_length=60, help_text=_("e.g. methane concentration"))
    unit = models.CharField(_("unit"), max_length=20, blank=True, help_text=_("e.g. %LEL, MPa, m"))
    reporting_interval_seconds = models.PositiveIntegerField(
        _("reporting interval (s)"),
        default=60,
        help_text=_("How often a sensor of this type reports; three missed intervals mark it offline."),
    )

    class Meta:
        ordering = ["domain__sort_order", "code"]
        verbose_name = _("sensor type")
        verbose_name_plural = _("sensor types")

    def __str__(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name


class GatewayQuerySet(models.QuerySet):
    def for_token(self, token: str) -> "Gateway | None":
        """The gateway whose token this is, active or not; None if it is nobody's."""
        return self.filter(token_hash=Gateway.hash_token(token)).first()


class Gateway(models.Model):
    """A data gateway that posts readings for the sensors it serves.

    Its API token lives here, from birth to look-up: ``set_token`` makes one
    and keeps only its hash, ``Gateway.objects.for_token`` finds the gateway
    a token belongs to.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    # SHA-256 of the token: the token is random and long, so a slow hash adds
    # nothing, and a plain digest lets the ingest path look it up by index.
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(_("token prefix"), max_length=8, editable=False, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True)

    objects = GatewayQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("gateway")
        verbose_name_plural = _("gateways")

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def set_token(self) -> str:
        """Give the gateway a new random token and return it; not saved.

        Only the hash and the first characters are kept: the token itself
        is shown to a person once and cannot be recovered.
        """
        token = secrets.token_urlsafe(32)
        self.token_hash = self.hash_token(token)
        self.token_prefix = token[:8]
        return token


class AssetKind(models.TextChoices):
    PIPE_SEGMENT = "pipe_segment", _("Pipe segment")
    BRIDGE = "bridge", _("Bridge")
    TUNNEL_SECTION = "tunnel_section", _("Utility tunnel section")


class Asset(models.Model):
    """A piece of infrastructure several sensors watch together: warnings on
    its sensors are one incident, not several (warning.incidents)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=AssetKind.choices)
    district = models.ForeignKey(
        District, models.SET_NULL, null=True, blank=True, related_name="assets", verbose_name=_("district")
    )
    owner_department = models.ForeignKey(
        Department,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_assets",
        verbose_name=_("owner department"),
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("asset")
        verbose_name_plural = _("assets")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class SensorStatus(ChoiceSet, models.TextChoices):
    UNKNOWN = "unknown", _("No data yet")
    ONLINE = "online", _("Online")
    OFFLINE = "offline", _("Offline")

    colours = nonmember({"UNKNOWN": SLATE, "ONLINE": TEAL, "OFFLINE": STEEL})
    display_order = nonmember(("ONLINE", "OFFLINE", "UNKNOWN"))


class Sensor(models.Model):
    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    sensor_type = models.ForeignKey(SensorType, models.PROTECT, related_name="sensors", verbose_name=_("sensor type"))
    location = models.PointField(_("location"), srid=4326)
    district = models.ForeignKey(
        District, models.SET_NULL, null=True, blank=True, related_name="sensors", verbose_name=_("district")
    )
    # The owner (权属单位): level III warnings go to it.
    owner_department = models.ForeignKey(
        Department,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_sensors",
        verbose_name=_("owner department"),
    )
    gateway = models.ForeignKey(
        Gateway, models.SET_NULL, null=True, blank=True, related_name="sensors", verbose_name=_("gateway")
    )
    # At most one asset per sensor: its warnings group into that asset's incident.
    asset = models.ForeignKey(
        Asset, models.SET_NULL, null=True, blank=True, related_name="sensors", verbose_name=_("asset")
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    status = models.CharField(_("status"), max_length=10, choices=SensorStatus.choices, default=SensorStatus.UNKNOWN)
    # Level of the sensor's most severe open warning (1 = most severe), kept
    # here by the warning app so the map never joins warnings.
    warning_level = models.PositiveSmallIntegerField(_("warning level"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("sensor")
        verbose_name_plural = _("sensors")
        indexes = [models.Index(fields=["status"]), models.Index(fields=["warning_level"])]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def current_state(self) -> "SensorState | None":
        """The sensor's state row; None before its first reading."""
        try:
            return self.state
        except ObjectDoesNotExist:
            return None

    @property
    def latest_value(self) -> float | None:
        state = self.current_state
        return state.latest_value if state else None

    @property
    def latest_observed_at(self):
        state = self.current_state
        return state.latest_observed_at if state else None


class SensorState(models.Model):
    """What every stored batch changes about a sensor: its newest reading, and
    what evaluation has yet to look at.

    A row of its own, apart from the sensor's (name, location, address, …):
    a batch of readings rewrites about 80 bytes per sensor instead of the
    whole sensor, the sensor table keeps its size under load, and with no
    index but the key and a low fill factor every update stays on its page
    (a HOT update). Ingestion creates the row at a sensor's first reading.
    """

    sensor = models.OneToOneField(
        Sensor, models.CASCADE, primary_key=True, related_name="state", verbose_name=_("sensor")
    )
    latest_value = models.FloatField(_("latest value"), null=True, blank=True)
    latest_observed_at = models.DateTimeField(_("latest reading at"), null=True, blank=True)
    # The newest stored reading by arrival (ids grow as readings arrive).
    latest_reading_id = models.BigIntegerField(_("newest reading id"), null=True, blank=True)
    # Set by ingestion, cleared by evaluation once every rule has seen every
    # reading: when the oldest reading evaluation has not seen arrived (the
    # evaluation lag), and the oldest observation time among those readings
    # (where evaluation starts reading, so its cost does not grow with the
    # sensor's history).
    unevaluated_since = models.DateTimeField(_("unevaluated readings since"), null=True, blank=True)
    unevaluated_observed_from = models.DateTimeField(_("oldest unevaluated observation"), null=True, blank=True)
    # The smallest id among those readings: where a rule evaluated for the
    # first time on this sensor starts (warning.services), so it sees what
    # arrived since the sensor was last evaluated and nothing before.
    unevaluated_reading_id_from = models.BigIntegerField(_("oldest unevaluated reading id"), null=True, blank=True)

    class Meta:
        verbose_name = _("sensor state")
        verbose_name_plural = _("sensor states")

    def __str__(self) -> str:
        return f"{self.sensor_id}: {self.latest_value} @ {self.latest_observed_at}"


class Reading(models.Model):
    """One observed value. The big table: written in bulk, never one save each.

    Unique on (sensor, observed_at) so that a retried batch is harmless; the
    same index answers "latest readings of one sensor" scanning backwards.

    Partitioned by day on ``observed_at`` (migration 0005, kept by pg_partman:
    see ``monitoring.partitions``), so retention drops whole days. In the
    database the primary key is (id, observed_at), because every key of a
    partitioned table must hold its partition key; the ids still come from
    one sequence, so an id alone names one reading and the ORM keeps using
    it. The sequence hands them out in order (no per-session cache): the
    evaluation watermarks and the roll-ups rely on that.
    """

    id = models.BigAutoField(primary_key=True)
    sensor = models.ForeignKey(Sensor, models.CASCADE, related_name="readings", db_index=False)
    observed_at = models.DateTimeField(_("observed at"))
    value = models.FloatField(_("value"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        constraints = [
            models.UniqueConstraint(fields=["sensor", "observed_at"], name="reading_unique_sensor_time"),
        ]

    def __str__(self) -> str:
        return f"{self.sensor_id} @ {self.observed_at:%Y-%m-%d %H:%M:%S}: {self.value}"


class Rollup(models.Model):
    """A sensor's readings summed up over one bucket of time (a minute, an hour).

    Charts, reports and backtests beyond a day read these instead of the
    readings. Kept up by ``monitoring.rollups`` as readings arrive; a late
    reading is folded into the bucket it belongs to. The sum, not the mean,
    is stored so that folding more readings in stays exact.
    """

    pk = models.CompositePrimaryKey("sensor_id", "bucket")
    sensor = models.ForeignKey(Sensor, models.CASCADE, related_name="+", db_index=False, verbose_name=_("sensor"))
    bucket = models.DateTimeField(_("bucket start"))
    count = models.PositiveIntegerField(_("readings"))
    minimum = models.FloatField(_("minimum"))
    maximum = models.FloatField(_("maximum"))
    total = models.FloatField(_("sum"))
    last_value = models.FloatField(_("last value"))
    last_observed_at = models.DateTimeField(_("last reading at"))

    class Meta:
        abstract = True

    @property
    def mean(self) -> float:
        return self.total / self.count


class MinuteRollup(Rollup):
    """Per sensor and minute; partitioned by day like the readings."""

    class Meta:
        verbose_name = _("minute roll-up")
        verbose_name_plural = _("minute roll-ups")


class HourRollup(Rollup):
    """Per sensor and hour; partitioned by month, kept for years."""

    class Meta:
        verbose_name = _("hour roll-up")
        verbose_name_plural = _("hour roll-ups")


class RollupProgress(models.Model):
    """How far the roll-ups have read the readings, by reading id: one row.

    ``rolled_up_through``: every reading up to this id is in the roll-ups.
    ``settling_through`` and ``settling_since``: the newest id handed out
    when last looked at, and when; readings up to it are folded in once no
    transaction older than that moment is still writing, so a batch that
    took a smaller id but commits later is never skipped.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    rolled_up_through = models.BigIntegerField(_("rolled up through reading id"), default=0)
    settling_through = models.BigIntegerField(_("settling through reading id"), null=True, blank=True)
    settling_since = models.DateTimeField(_("settling since"), null=True, blank=True)

    class Meta:
        verbose_name = _("roll-up progress")
        verbose_name_plural = _("roll-up progress")

    def __str__(self) -> str:
        return f"rolled up through reading {self.rolled_up_through}"
