"""What the platform keeps about its own processes."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ProcessKind(models.TextChoices):
    WORKER = "worker", _("Celery worker")
    BEAT = "beat", _("Celery beat")
    MQTT_BRIDGE = "mqtt_bridge", _("MQTT bridge")


class Heartbeat(models.Model):
    """The last sign of life of one background process (one row per process).

    In the database, not in Redis: readiness must be able to say "the worker
    is gone" precisely when Redis is the thing that failed, and the database
    is the platform's source of truth (DESIGN.md). One short UPDATE per
    process every HEARTBEAT_SECONDS is nothing next to the readings.
    """

    kind = models.CharField(_("kind"), max_length=20, choices=ProcessKind.choices)
    # Celery's node name (worker@host), beat@host, or the bridge's client id.
    name = models.CharField(_("name"), max_length=200)
    started_at = models.DateTimeField(_("started at"))
    beat_at = models.DateTimeField(_("last heartbeat at"))
    # Set when the process shut down cleanly, so readiness says "stopped"
    # at once instead of waiting for the heartbeat to go stale.
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="heartbeat_one_row_per_process")]
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"


class Tally(models.Model):
    """A counter that every process adds to, read by /metrics at scrape time.

    Prometheus counters in one process's memory would be wrong under
    gunicorn (each worker counts its own share) and lost on every restart;
    in the database they are one number for the whole platform. ``label``
    carries the one label value (a gateway's code).
    """

    name = models.CharField(_("name"), max_length=80)
    label = models.CharField(_("label"), max_length=80, blank=True)
    value = models.BigIntegerField(_("value"), default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "label"], name="tally_one_row_per_name_and_label")]
        verbose_name = _("tally")
        verbose_name_plural = _("tallies")

    def __str__(self) -> str:
        return f"{self.name}{{{self.label}}} = {self.value}"
