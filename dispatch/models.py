from enum import nonmember

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citysafety.choices import AMBER, BLUE, GREY, RED, TEAL, ChoiceSet
from monitoring.models import RiskDomain
from organisation.models import Department
from warning.models import Level, Warning


class VerificationMode(ChoiceSet, models.TextChoices):
    """When a warning routed by a policy goes out: the policy of the warning's level decides."""

    AT_ONCE = "at_once", _("Dispatch at once")
    VERIFY_FIRST = "verify_first", _("Dispatch only after a duty officer verifies")
    PARALLEL = "parallel", _("Dispatch at once and verify in parallel")


class RoutingPolicy(models.Model):
    """Who must act on a warning of one domain at one level, and how fast.

    A warning at a level is routed to this level's departments plus those of
    every less severe level (Level I adds the command office to the Level II
    and Level III departments).
    """

    domain = models.ForeignKey(
        RiskDomain, models.CASCADE, related_name="routing_policies", verbose_name=_("risk domain")
    )
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    departments = models.ManyToManyField(
        Department, blank=True, related_name="routing_policies", verbose_name=_("departments")
    )
    include_sensor_owner = models.BooleanField(
        _("include the sensor's owner"), default=False, help_text=_("Route to the department that owns the sensor.")
    )
    include_district_government = models.BooleanField(
        _("include the district government"),
        default=False,
        help_text=_("Route to the government of the district the sensor stands in."),
    )
    ack_deadline_minutes = models.PositiveIntegerField(_("acknowledgement deadline (minutes)"), default=30)
    verification = models.CharField(
        _("verification before dispatch"),
        max_length=12,
        choices=VerificationMode.choices,
        default=VerificationMode.AT_ONCE,
        db_default=VerificationMode.AT_ONCE,
        help_text=_(
            "Whether warnings at this level wait for a duty officer's verification before their work orders go "
            "out. In parallel, work orders go out at once and the warning also waits for a verdict; a false "
            "alarm then stands the departments down."
        ),
    )

    class Meta:
        ordering = ["domain", "-level"]
        verbose_name = _("routing policy")
        verbose_name_plural = _("routing policies")
        constraints = [models.UniqueConstraint(fields=["domain", "level"], name="routing_policy_unique_domain_level")]

    def __str__(self) -> str:
        return f"{self.domain} · {self.get_level_display()}"


class WorkOrderStatus(ChoiceSet, models.TextChoices):
    PENDING = "pending", _("Awaiting acknowledgement")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    REPORTED = "reported", _("Reported")
    CLOSED = "closed", _("Closed")

    colours = nonmember({"PENDING": AMBER, "ACKNOWLEDGED": BLUE, "REPORTED": TEAL, "CLOSED": GREY})


class WorkOrder(models.Model):
    warning = models.ForeignKey(Warning, models.CASCADE, related_name="work_orders", verbose_name=_("warning"))
    department = models.ForeignKey(Department, models.PROTECT, related_name="work_orders", verbose_name=_("department"))
    # Follows the warning: an escalation raises it (the timeline keeps the
    # level each order was routed at).
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=WorkOrderStatus.choices, default=WorkOrderStatus.PENDING
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    ack_deadline = models.DateTimeField(_("acknowledge by"))
    is_overdue = models.BooleanField(_("overdue"), default=False)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)
    report = models.TextField(_("handling report"), blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        constraints = [
            models.UniqueConstraint(fields=["warning", "department"], name="work_order_unique_warning_department"),
        ]
        # The queues read newest first and page by (created_at, id): the
        # department's, the duty officer's, open or closed or one status,
        # each an index range (dispatch.selectors).
        indexes = [
            models.Index(fields=["created_at", "id"], name="wo_created_idx"),
            models.Index(fields=["created_at", "id"], condition=~Q(status="closed"), name="wo_open_created_idx"),
            models.Index(fields=["department", "created_at", "id"], name="wo_dept_created_idx"),
            models.Index(
                fields=["department", "created_at", "id"],
                condition=~Q(status="closed"),
                name="wo_dept_open_created_idx",
            ),
            models.Index(fields=["status", "created_at", "id"], name="wo_status_created_idx"),
            models.Index(fields=["department", "status", "created_at", "id"], name="wo_dept_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"WO-{self.pk} {self.department}"


class WorkOrderEventKind(ChoiceSet, models.TextChoices):
    CREATED = "created", _("Dispatched")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    REPORTED = "reported", _("Handling reported")
    OVERDUE = "overdue", _("Acknowledgement overdue")
    ESCALATED = "escalated", _("Warning escalated")
    REOPENED = "reopened", _("Reopened")
    CLOSED = "closed", _("Closed")

    colours = nonmember(
        {
            "CREATED": BLUE,
            "ACKNOWLEDGED": BLUE,
            "REPORTED": TEAL,
            "OVERDUE": RED,
            "ESCALATED": RED,
            "REOPENED": BLUE,
            "CLOSED": GREY,
        }
    )


class WorkOrderEvent(models.Model):
    """One step of a work order's timeline: who, when, what, with a note."""

    work_order = models.ForeignKey(WorkOrder, models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=12, choices=WorkOrderEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    # What a person wrote (an acknowledgement note, a report, a disposal note).
    note = models.TextField(_("note"), blank=True)
    # What the platform recorded (the level routed at, the minutes given):
    # data, so that the sentence is written in the reader's language.
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("work order event")
        verbose_name_plural = _("work order events")

    def __str__(self) -> str:
        return self.get_kind_display()
