from datetime import datetime
from enum import nonmember

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citysafety.choices import GREY, ORANGE, RED, TEAL, YELLOW, ChoiceSet
from monitoring.models import Asset, Gateway, Sensor, SensorType
from organisation.models import District


class Level(ChoiceSet, models.IntegerChoices):
    """Chinese practice: Level I (一级, red) is the most severe."""

    I = 1, _("Level I (red)")  # noqa: E741 - the level's own name
    II = 2, _("Level II (orange)")
    III = 3, _("Level III (yellow)")

    colours = nonmember({"I": RED, "II": ORANGE, "III": YELLOW})
    # Badges and counters, where the colour already says which.
    short_labels = nonmember({"I": _("Level I"), "II": _("Level II"), "III": _("Level III")})


class Direction(ChoiceSet, models.TextChoices):
    """Which side of the thresholds warns. A rate-of-change rule reads
    "above" as a rise and "below" as a fall; a band has both sides."""

    ABOVE = "above", _("Above the thresholds")
    BELOW = "below", _("Below the thresholds")
    OUTSIDE = "outside", _("Outside a band (too high or too low)")

    symbols = nonmember({"ABOVE": "≥", "BELOW": "≤", "OUTSIDE": "∉"})


class RuleKind(ChoiceSet, models.TextChoices):
    THRESHOLD = "threshold", _("Value against thresholds")
    RATE = "rate", _("Rate of change")
    NO_DATA = "no_data", _("No data (sensor silent)")


class ThresholdRule(models.Model):
    """Three thresholds on a sensor type's metric, or on one sensor's.

    A rule on a sensor overrides the rules of its type.
    """

    name = models.CharField(_("name"), max_length=120)
    sensor_type = models.ForeignKey(
        SensorType,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="threshold_rules",
        verbose_name=_("sensor type"),
    )
    sensor = models.ForeignKey(
        Sensor,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="threshold_rules",
        verbose_name=_("sensor"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=RuleKind.choices, default=RuleKind.THRESHOLD)
    direction = models.CharField(_("direction"), max_length=7, choices=Direction.choices, default=Direction.ABOVE)
    # Null only on a no-data rule, which compares no value (``clean``).
    level3_threshold = models.FloatField(_("Level III threshold (yellow)"), null=True, blank=True)
    level2_threshold = models.FloatField(_("Level II threshold (orange)"), null=True, blank=True)
    level1_threshold = models.FloatField(_("Level I threshold (red)"), null=True, blank=True)
    # The low side of a band (direction "outside"); the thresholds above are
    # then its high side.
    level3_lower_threshold = models.FloatField(_("Level III lower threshold (yellow)"), null=True, blank=True)
    level2_lower_threshold = models.FloatField(_("Level II lower threshold (orange)"), null=True, blank=True)
    level1_lower_threshold = models.FloatField(_("Level I lower threshold (red)"), null=True, blank=True)
    hold_seconds = models.PositiveIntegerField(
        _("hold for (seconds)"),
        null=True,
        blank=True,
        help_text=_("The condition must hold this long before the warning opens or escalates. Empty: at once."),
    )
    hold_readings = models.PositiveIntegerField(
        _("hold for (consecutive readings)"),
        null=True,
        blank=True,
        help_text=_("The condition must hold for this many readings in a row before the warning opens or escalates."),
    )
    rate_window_seconds = models.PositiveIntegerField(
        _("rate window (seconds)"),
        null=True,
        blank=True,
        help_text=_("Rate of change: the change is measured over the stored readings of this window."),
    )
    rate_in_percent = models.BooleanField(
        _("change in percent"),
        default=False,
        help_text=_(
            "Rate of change: thresholds are percentages of the window's lowest (rise) or highest (fall) value."
        ),
    )
    no_data_seconds = models.PositiveIntegerField(
        _("silent for (seconds)"),
        null=True,
        blank=True,
        help_text=_("No data: a sensor with no reading for this long gets a warning."),
    )
    no_data_level = models.PositiveSmallIntegerField(_("no-data level"), choices=Level.choices, null=True, blank=True)
    dead_band = models.FloatField(
        _("dead band"),
        default=0.0,
        help_text=_("A warning recovers only once the value is this far back inside the Level III threshold."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("threshold rule")
        verbose_name_plural = _("threshold rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(sensor_type__isnull=False, sensor__isnull=True)
                | Q(sensor_type__isnull=True, sensor__isnull=False),
                name="threshold_rule_on_type_xor_sensor",
            ),
            models.CheckConstraint(condition=Q(dead_band__gte=0), name="threshold_rule_dead_band_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    def _has(self, relation: str) -> bool:
        # By object, not id: a rule added inline with a new sensor type is
        # validated before its parent is saved and has an id.
        try:
            return getattr(self, relation) is not None
        except ObjectDoesNotExist:
            return False

    def clean(self) -> None:
        has_type, has_sensor = self._has("sensor_type"), self._has("sensor")
        if has_type and has_sensor:
            raise ValidationError(
                {"sensor": _("Clear the sensor, or the sensor type: a rule applies to a whole type or to one sensor.")}
            )
        if not has_type and not has_sensor:
            raise ValidationError(
                {"sensor_type": _("Choose the sensor type this rule applies to, or a single sensor.")}
            )
        from warning.rule_kinds import rule_errors  # rule_kinds imports this module (listed in pyproject.toml)

        errors = rule_errors(self)
        if errors:
            raise ValidationError(errors)

    def thresholds(self) -> dict[int, float]:
        return {1: self.level1_threshold, 2: self.level2_threshold, 3: self.level3_threshold}

    def lower_thresholds(self) -> dict[int, float]:
        """A band's low side."""
        return {1: self.level1_lower_threshold, 2: self.level2_lower_threshold, 3: self.level3_lower_threshold}

    @property
    def holds(self) -> bool:
        """The condition must last before the warning opens or escalates."""
        return bool(self.hold_seconds or self.hold_readings)


class WarningStatus(ChoiceSet, models.TextChoices):
    ACTIVE = "active", _("Active")
    RECOVERED = "recovered", _("Recovered")
    CLOSED = "closed", _("Closed")

    colours = nonmember({"ACTIVE": RED, "RECOVERED": TEAL, "CLOSED": GREY})


class VerificationStatus(ChoiceSet, models.TextChoices):
    """研判: a duty officer's verdict on a warning its routing policy holds for one.

    Blank: the warning was never held for verification (its policy
    dispatches at once).
    """

    NOT_ASKED = "", _("Not held for verification")
    PENDING = "pending", _("Awaiting verification")
    CONFIRMED = "confirmed", _("Confirmed")
    FALSE_ALARM = "false_alarm", _("False alarm")

    colours = nonmember({"NOT_ASKED": GREY, "PENDING": YELLOW, "CONFIRMED": RED, "FALSE_ALARM": GREY})


class FalseAlarmReason(ChoiceSet, models.TextChoices):
    SENSOR_FAULT = "sensor_fault", _("Sensor fault")
    MAINTENANCE = "maintenance", _("Maintenance work")
    THRESHOLD_TOO_TIGHT = "threshold_too_tight", _("Threshold too tight")
    OTHER = "other", _("Other")


class Warning(models.Model):
    sensor = models.ForeignKey(Sensor, models.CASCADE, related_name="warnings", verbose_name=_("sensor"))
    rule = models.ForeignKey(ThresholdRule, models.PROTECT, related_name="warnings", verbose_name=_("threshold rule"))
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    status = models.CharField(_("status"), max_length=10, choices=WarningStatus.choices, default=WarningStatus.ACTIVE)
    opened_at = models.DateTimeField(_("opened at"))
    first_value = models.FloatField(_("first value"))
    last_value = models.FloatField(_("last value"))
    peak_value = models.FloatField(_("peak value"))
    last_observed_at = models.DateTimeField(_("last reading at"))
    recovered_at = models.DateTimeField(_("recovered at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    disposal_note = models.TextField(_("disposal note"), blank=True)
    # A person chose to close the warning while its sensor still read in
    # warning (the note says why): kept apart from an ordinary close.
    closed_while_active = models.BooleanField(_("closed while active"), default=False)
    # 研判 (warning/verification.py): held back from dispatch, or dispatched
    # and checked in parallel, until a duty officer gives a verdict.
    # Defaults in the database too: bulk loads in raw SQL (bench/history.py)
    # leave these columns out.
    verification = models.CharField(
        _("verification"), max_length=12, choices=VerificationStatus.choices, blank=True, default="", db_default=""
    )
    verification_requested_at = models.DateTimeField(_("awaiting verification since"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by"),
    )
    false_alarm_reason = models.CharField(
        _("false alarm reason"), max_length=20, choices=FalseAlarmReason.choices, blank=True, default="", db_default=""
    )
    # Found among late or back-filled readings, opened and ended in the past
    # (warning.history): recorded closed, for history and reports, and never
    # routed or pushed as a live alarm.
    is_historical = models.BooleanField(
        _("historical"),
        default=False,
        # In the database too: bulk SQL (the benchmarks' seeds) that names
        # no such column still inserts.
        db_default=False,
        help_text=_("Found among late or back-filled readings after it had already ended; never dispatched."),
    )
    # More than WARNING_FLAP_LIMIT recoveries and reactivations within an
    # hour: its changes are pushed coalesced, not one by one (warning.flapping).
    # A database default too: bulk loaders that list their columns (the
    # history seed) need not know of it.
    is_flapping = models.BooleanField(_("flapping"), default=False, db_default=False)
    flapping_since = models.DateTimeField(_("flapping since"), null=True, blank=True)
    incident = models.ForeignKey(
        "Incident", models.SET_NULL, null=True, blank=True, related_name="members", verbose_name=_("incident")
    )

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("warning")
        verbose_name_plural = _("warnings")
        constraints = [
            # The last line of defence for "one open warning per sensor and
            # rule": evaluation locks the state row first, this catches a bug.
            models.UniqueConstraint(
                fields=["sensor", "rule"],
                condition=~Q(status="closed"),
                name="warning_one_open_per_sensor_rule",
            ),
        ]
        # The lists read newest first and page by (opened_at, id): each
        # filter they serve has an index ending in those two columns, so a
        # page is one index range however deep (warning.selectors).
        indexes = [
            models.Index(fields=["status", "level"]),
            models.Index(fields=["opened_at", "id"], name="warning_opened_idx"),
            models.Index(fields=["opened_at", "id"], condition=~Q(status="closed"), name="warning_open_opened_idx"),
            models.Index(fields=["level", "opened_at", "id"], name="warning_level_opened_idx"),
            # The verification queue, paged like the other lists.
            models.Index(
                fields=["opened_at", "id"],
                condition=Q(verification="pending"),
                name="warning_unverified_idx",
            ),
            # False-alarm rates per rule and per sensor (admin).
            models.Index(fields=["rule", "verification"], name="warning_rule_verdict_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_level_display()} {self.sensor}"

    @property
    def is_open(self) -> bool:
        return self.status != WarningStatus.CLOSED

    @property
    def ended_at(self) -> datetime | None:
        """When the event was over, as the closed lists give it: its closing; for a historical
        warning, the end of its episode (its last transition, the recovery).

        A historical warning is recorded closed when its readings are imported, days or weeks
        after the event: that ``closed_at`` is the record's time, not the event's.
        """
        if self.is_historical:
            return self.recovered_at or self.last_observed_at
        return self.closed_at

    @property
    def colour(self) -> str:
        """The level's colour by name, as the API gives it ("red")."""
        return Level(self.level).colour.name

    @property
    def current_level(self) -> int | None:
        """The level the latest value reaches now: 1 … 3, or 0 when it
        reaches none (back inside the Level III threshold, within the dead
        band); None for a warning no longer active.

        ``level`` is the worst the warning has been (it never falls); this is
        where the sensor stands now.
        """
        if self.status != WarningStatus.ACTIVE:
            return None
        from warning.evaluation import classify  # evaluation imports this module (listed in pyproject.toml)

        return classify(self.rule, self.last_value, in_warning=False)


class TransitionKind(ChoiceSet, models.TextChoices):
    OPENED = "opened", _("Opened")
    ESCALATED = "escalated", _("Escalated")
    RECOVERED = "recovered", _("Recovered")
    REACTIVATED = "reactivated", _("Reactivated")
    CLOSED = "closed", _("Closed")
    CONFIRMED = "confirmed", _("Confirmed by verification")
    FALSE_ALARM = "false_alarm", _("Closed as a false alarm")

    colours = nonmember(
        {
            "OPENED": RED,
            "ESCALATED": RED,
            "RECOVERED": TEAL,
            "REACTIVATED": RED,
            "CLOSED": GREY,
            "CONFIRMED": RED,
            "FALSE_ALARM": GREY,
        }
    )


class WarningTransition(models.Model):
    """One change of a warning's level or status: its history."""

    warning = models.ForeignKey(Warning, models.CASCADE, related_name="transitions")
    kind = models.CharField(_("kind"), max_length=12, choices=TransitionKind.choices)
    from_level = models.PositiveSmallIntegerField(_("from level"), choices=Level.choices, null=True, blank=True)
    to_level = models.PositiveSmallIntegerField(_("to level"), choices=Level.choices)
    value = models.FloatField(_("value"), null=True, blank=True)
    observed_at = models.DateTimeField(_("reading at"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        # In the order things happened: a transition a reading caused by
        # that reading's time (a back-filled one may be recorded long after
        # a later one). A person's (closing: no reading) comes after every
        # reading's, whatever the clocks say: a gateway's may run minutes
        # ahead of the server's.
        ordering = [F("observed_at").asc(nulls_last=True), "created_at", "id"]
        verbose_name = _("warning transition")
        verbose_name_plural = _("warning transitions")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.get_to_level_display()}"


class RuleState(models.Model):
    """Evaluation state of one rule on one sensor.

    Its watermark makes evaluation idempotent: a reading is evaluated once,
    whatever the order readings arrive in. (Evaluation of a sensor is
    serialised on the sensor's row, which ingestion locks too.)
    """

    sensor = models.ForeignKey(Sensor, models.CASCADE, related_name="+")
    rule = models.ForeignKey(ThresholdRule, models.CASCADE, related_name="states")
    # The watermark: readings with a greater id are new to this rule. By id,
    # not time, so a late reading or a gateway clock running fast cannot
    # hide a reading from evaluation.
    last_reading_id = models.BigIntegerField(null=True, blank=True)
    # The newest observation time evaluated: an older reading arriving later
    # may still open or escalate a warning, but not recover it.
    evaluated_through = models.DateTimeField(null=True, blank=True)
    # A rule with a duration: per level ("1" … "3") the run of consecutive
    # readings reaching it, {"since": ISO time of its first reading, "count":
    # readings}; null or empty when none runs. Kept here, in the chunk's transaction,
    # so a worker dying mid-window loses nothing and counts nothing twice.
    hold_progress = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sensor", "rule"], name="rule_state_unique")]

    def __str__(self) -> str:
        return f"{self.sensor_id}/{self.rule_id} through {self.evaluated_through}"


class GatewayOutage(models.Model):
    """One warning for a gateway gone silent, in place of a no-data warning
    for each of its sensors (inhibition): a gateway down is one fault, not
    hundreds. It ends by itself when the gateway is heard again; sensors
    still silent then get their own no-data warnings."""

    gateway = models.ForeignKey(Gateway, models.CASCADE, related_name="+", verbose_name=_("gateway"))
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    status = models.CharField(_("status"), max_length=10, choices=WarningStatus.choices, default=WarningStatus.ACTIVE)
    opened_at = models.DateTimeField(_("opened at"))
    last_seen_at = models.DateTimeField(_("gateway last seen at"), null=True, blank=True)
    silent_sensors = models.PositiveIntegerField(_("silent sensors"), default=0)
    recovered_at = models.DateTimeField(_("recovered at"), null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("gateway outage")
        verbose_name_plural = _("gateway outages")
        constraints = [
            models.UniqueConstraint(
                fields=["gateway"], condition=Q(status="active"), name="gateway_outage_one_active_per_gateway"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.get_status_display()} @ {self.opened_at:%Y-%m-%d %H:%M}"


class Incident(models.Model):
    """Warnings that are one event: on sensors of one asset, or close in place and time.

    The primary (at first the earliest warning) is routed; the later members
    attach to its work orders (dispatch.receivers). When the primary closes or
    is ruled a false alarm while others are open, the incident passes to the
    next open member (``warning.incidents``), which is routed in its turn; the
    last hand-over is kept here. Closed when its last member closes.
    """

    primary = models.ForeignKey(Warning, models.PROTECT, related_name="+", verbose_name=_("primary warning"))
    asset = models.ForeignKey(
        Asset, models.SET_NULL, null=True, blank=True, related_name="incidents", verbose_name=_("asset")
    )
    opened_at = models.DateTimeField(_("opened at"))
    # Set when its last member closes; open until then.
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # The last hand-over: the primary before, how it ended (its transition
    # kind: closed or false alarm) and when the incident passed on.
    handed_over_from = models.ForeignKey(
        Warning,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handed over from"),
    )
    handed_over_reason = models.CharField(
        _("hand-over reason"),
        max_length=20,
        choices=[(kind.value, kind.label) for kind in (TransitionKind.CLOSED, TransitionKind.FALSE_ALARM)],
        blank=True,
        default="",
        db_default="",
    )
    handed_over_at = models.DateTimeField(_("handed over at"), null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")

    def __str__(self) -> str:
        return _("Incident #%(id)s") % {"id": self.pk}

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Silence(models.Model):
    """A maintenance window (Alertmanager's silence): while it lasts, the
    readings of the sensors it covers are stored and evaluated, but no
    warning opens, escalates or comes back for them, so nothing is
    dispatched. It covers one sensor, a gateway's sensors, a district's or a
    sensor type's.
    """

    sensor = models.ForeignKey(
        Sensor, models.CASCADE, null=True, blank=True, related_name="silences", verbose_name=_("sensor")
    )
    gateway = models.ForeignKey(
        Gateway, models.CASCADE, null=True, blank=True, related_name="silences", verbose_name=_("gateway")
    )
    district = models.ForeignKey(
        District, models.CASCADE, null=True, blank=True, related_name="silences", verbose_name=_("district")
    )
    sensor_type = models.ForeignKey(
        SensorType, models.CASCADE, null=True, blank=True, related_name="silences", verbose_name=_("sensor type")
    )
    reason = models.TextField(_("reason"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    starts_at = models.DateTimeField(_("starts at"), default=timezone.now)
    ends_at = models.DateTimeField(_("expires at"))
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ended early by"),
    )
    # Set once the end is acted on: the conditions still true then open
    # their warnings (warning.silences.silences_lift). Null while it lasts.
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True, editable=False)

    TARGETS = ("sensor", "gateway", "district", "sensor_type")

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("silence")
        verbose_name_plural = _("silences")
        constraints = [
            models.CheckConstraint(
                condition=Q(sensor__isnull=False, gateway__isnull=True, district__isnull=True, sensor_type__isnull=True)
                | Q(sensor__isnull=True, gateway__isnull=False, district__isnull=True, sensor_type__isnull=True)
                | Q(sensor__isnull=True, gateway__isnull=True, district__isnull=False, sensor_type__isnull=True)
                | Q(sensor__isnull=True, gateway__isnull=True, district__isnull=True, sensor_type__isnull=False),
                name="silence_one_target",
            ),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="silence_ends_after_start"),
        ]
        indexes = [
            # The lift sweep's scan: silences not yet lifted, by expiry.
            models.Index(fields=["ends_at"], condition=Q(lifted_at__isnull=True), name="silence_unlifted_idx"),
        ]

    def __str__(self) -> str:
        return _("Silence of %(target)s") % {"target": self.target}

    @property
    def target(self) -> object:
        for name in self.TARGETS:
            value = getattr(self, name, None)
            if value is not None:
                return value
        return "?"

    @property
    def target_kind(self) -> str:
        return next(
            (str(self._meta.get_field(name).verbose_name) for name in self.TARGETS if getattr(self, f"{name}_id")), ""
        )

    def is_in_force(self, at=None) -> bool:
        at = at or timezone.now()
        return self.starts_at <= at < self.ends_at

    def clean(self) -> None:
        chosen = [name for name in self.TARGETS if getattr(self, f"{name}_id") is not None]
        if len(chosen) != 1:
            raise ValidationError(
                _("Choose exactly one of sensor, gateway, district or sensor type for the silence to cover.")
            )
        if not (self.reason or "").strip():
            raise ValidationError({"reason": _("Say why the warnings are silenced (e.g. the maintenance work).")})
        if self.starts_at and self.ends_at:
            if self.ends_at <= self.starts_at:
                raise ValidationError(
                    {
                        "ends_at": _("The silence ends before it starts: set the expiry after the start (%(start)s).")
                        % {"start": timezone.localtime(self.starts_at).strftime("%Y-%m-%d %H:%M")}
                    }
                )
            if self._state.adding and self.ends_at <= timezone.now():
                raise ValidationError(
                    {"ends_at": _("The expiry is in the past: set a time from now on, or there is nothing to silence.")}
                )
