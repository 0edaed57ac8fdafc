from datetime import datetime
from enum import nonmember

from django.conf import settings
from django.contrib.gis.db import models as gis
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citysafety.choices import AMBER, BLUE, GREY, RED, SLATE, TEAL, ChoiceSet
from monitoring.models import RiskDomain
from organisation.models import Department, DepartmentKind
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
    # Counted from dispatch, like the acknowledgement deadline.
    arrive_deadline_minutes = models.PositiveIntegerField(
        _("on-site deadline (minutes)"), default=60, help_text=_("Minutes from dispatch to be on site.")
    )
    report_deadline_minutes = models.PositiveIntegerField(
        _("report deadline (minutes)"), default=240, help_text=_("Minutes from dispatch to report the handling.")
    )
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
    ON_SITE = "on_site", _("On site")
    REPORTED = "reported", _("Reported")
    VERIFIED = "verified", _("Verified")
    RETURNED = "returned", _("Returned")
    TRANSFERRED = "transferred", _("Transferred")
    CLOSED = "closed", _("Closed")

    colours = nonmember(
        {
            "PENDING": AMBER,
            "ACKNOWLEDGED": BLUE,
            "ON_SITE": BLUE,
            "REPORTED": TEAL,
            "VERIFIED": TEAL,
            "RETURNED": RED,
            "TRANSFERRED": SLATE,
            "CLOSED": GREY,
        }
    )


# An order in one of these states is finished for its department: closed with
# its warning, or handed to another department (read-only history).
FINISHED_STATUSES = (WorkOrderStatus.CLOSED, WorkOrderStatus.TRANSFERRED)


# Statuses in which a department has the order in hand, working to its
# on-site and report deadlines.
IN_HAND_STATUSES = {WorkOrderStatus.ACKNOWLEDGED, WorkOrderStatus.ON_SITE}

# The deadline an order in each status works to (the escalation sweep and
# the cards read it): pending → acknowledge, acknowledged → be on site,
# on site → report; the other statuses have none.
DEADLINE_OF_STATUS = {
    WorkOrderStatus.PENDING: "acknowledge",
    WorkOrderStatus.ACKNOWLEDGED: "arrive",
    WorkOrderStatus.ON_SITE: "report",
}
# Each deadline's field, in the order an order meets them.
DEADLINE_FIELDS = {"acknowledge": "ack_deadline", "arrive": "arrive_deadline", "report": "report_deadline"}


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
    on_site_at = models.DateTimeField(_("on site at"), null=True, blank=True)
    arrive_deadline = models.DateTimeField(_("on site by"), null=True, blank=True)
    report_deadline = models.DateTimeField(_("report by"), null=True, blank=True)
    # How far the escalation of a missed deadline went: the deadline it is
    # about (a new deadline starts again), the last step taken (position in
    # EscalationStep order) and when someone was last told.
    escalation_deadline = models.DateTimeField(_("escalated deadline"), null=True, blank=True)
    escalation_step = models.PositiveSmallIntegerField(_("escalation step"), default=0, db_default=0)
    escalated_at = models.DateTimeField(_("last reminded at"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)
    report = models.TextField(_("handling report"), blank=True)
    # The report's structured part (反馈): what caused it, what was done, how it ended, who went.
    report_cause = models.TextField(_("cause"), blank=True)
    report_actions = models.TextField(_("actions taken"), blank=True)
    report_result = models.TextField(_("result"), blank=True)
    people_sent = models.PositiveIntegerField(_("people sent"), null=True, blank=True)
    vehicles_sent = models.PositiveIntegerField(_("vehicles sent"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_work_orders",
        verbose_name=_("assigned to"),
    )
    # Why the order was last returned (退回) or its report sent back: the
    # next person to act reads it on the card.
    status_reason = models.TextField(_("reason"), blank=True)
    # A transfer (转派) makes a new order for the new department; the old one
    # stays with its department, read-only.
    transferred_from = models.OneToOneField(
        "self",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="transferred_to",
        verbose_name=_("transferred from"),
    )

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

    def current_deadline(self) -> tuple[str, datetime | None] | None:
        """The deadline the order is working to now: ("acknowledge" | "arrive" | "report", when), or None.

        Read from the status alone: an order comes back (a report sent back,
        a warning that flares up again) with its earlier on-site and report
        times still recorded, and then works to its fresh deadline.
        """
        stage = DEADLINE_OF_STATUS.get(self.status)
        if stage is None:
            return None
        return stage, getattr(self, DEADLINE_FIELDS[stage])


class WorkOrderEventKind(ChoiceSet, models.TextChoices):
    CREATED = "created", _("Dispatched")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    ON_SITE = "on_site", _("Arrived on site")
    ASSIGNED = "assigned", _("Assigned")
    REPORTED = "reported", _("Handling reported")
    VERIFIED = "verified", _("Report verified")
    SENT_BACK = "sent_back", _("Report sent back")
    RETURNED = "returned", _("Returned to the duty officer")
    TRANSFERRED = "transferred", _("Transferred")
    TRANSFER_IN = "transfer_in", _("Received by transfer")
    REDISPATCHED = "redispatched", _("Dispatched again")
    OVERDUE = "overdue", _("Acknowledgement overdue")
    ESCALATED = "escalated", _("Warning escalated")
    REOPENED = "reopened", _("Reopened")
    CLOSED = "closed", _("Closed")
    REMINDED = "reminded", _("Deadline reminder")
    TO_LEADER = "to_leader", _("Escalated to the leader on duty")
    TO_COMMAND = "to_command", _("Escalated to the city command office")

    colours = nonmember(
        {
            "REMINDED": AMBER,
            "TO_LEADER": RED,
            "TO_COMMAND": RED,
            "CREATED": BLUE,
            "ACKNOWLEDGED": BLUE,
            "ON_SITE": BLUE,
            "ASSIGNED": BLUE,
            "REPORTED": TEAL,
            "VERIFIED": TEAL,
            "SENT_BACK": AMBER,
            "RETURNED": RED,
            "TRANSFERRED": SLATE,
            "TRANSFER_IN": BLUE,
            "REDISPATCHED": BLUE,
            "OVERDUE": RED,
            "ESCALATED": RED,
            "REOPENED": BLUE,
            "CLOSED": GREY,
        }
    )


class WorkOrderEvent(models.Model):
    """One step of a work order's timeline: who, when, what, with a note."""

    work_order = models.ForeignKey(WorkOrder, models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=WorkOrderEventKind.choices)
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


class ResponsePlan(models.Model):
    """数字化预案: what each kind of department must do for one domain at one level.

    A work order carries its department's actions as a checklist, copied when
    it is made: editing a plan changes the orders to come, not those under way.
    """

    domain = models.ForeignKey(RiskDomain, models.CASCADE, related_name="response_plans", verbose_name=_("risk domain"))
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    title = models.CharField(_("title"), max_length=200)

    class Meta:
        ordering = ["domain", "-level"]
        verbose_name = _("response plan")
        verbose_name_plural = _("response plans")
        constraints = [models.UniqueConstraint(fields=["domain", "level"], name="response_plan_unique_domain_level")]

    def __str__(self) -> str:
        return self.title


class ResponsePlanAction(models.Model):
    plan = models.ForeignKey(ResponsePlan, models.CASCADE, related_name="actions", verbose_name=_("response plan"))
    department_kind = models.CharField(_("department kind"), max_length=20, choices=DepartmentKind.choices)
    text = models.CharField(_("action"), max_length=300)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["plan", "department_kind", "position", "id"]
        verbose_name = _("plan action")
        verbose_name_plural = _("plan actions")

    def __str__(self) -> str:
        return self.text


class WorkOrderAction(models.Model):
    """One action of the plan on a work order's checklist; the report ticks it."""

    work_order = models.ForeignKey(WorkOrder, models.CASCADE, related_name="actions", verbose_name=_("work order"))
    # Kept as text: the plan may change or go after the order was made.
    text = models.CharField(_("action"), max_length=300)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        ordering = ["work_order", "-level", "position", "id"]
        verbose_name = _("checklist action")
        verbose_name_plural = _("checklist actions")

    def __str__(self) -> str:
        return self.text


def photo_path(photo: "ReportPhoto", filename: str) -> str:
    return f"work-orders/{photo.work_order_id}/{filename}"


class ReportPhoto(models.Model):
    """A photo sent with a work order's report, checked by its content (dispatch.photos)."""

    work_order = models.ForeignKey(WorkOrder, models.CASCADE, related_name="photos", verbose_name=_("work order"))
    image = models.FileField(_("image"), upload_to=photo_path, max_length=200)
    thumbnail = models.FileField(_("thumbnail"), upload_to=photo_path, max_length=200)
    # The name it had on the sender's device, for the page; the stored name is ours.
    original_name = models.CharField(_("file name"), max_length=200, blank=True)
    content_type = models.CharField(_("content type"), max_length=40)
    size = models.PositiveIntegerField(_("size (bytes)"))
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    # When and where the photo says it was taken (its EXIF, read at upload):
    # empty when it does not say. The original file keeps the EXIF as evidence.
    taken_at = models.DateTimeField(_("taken at"), null=True, blank=True)
    taken_location = gis.PointField(_("place taken"), srid=4326, null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("report photo")
        verbose_name_plural = _("report photos")

    def __str__(self) -> str:
        return self.original_name or self.image.name


class EscalationTarget(models.TextChoices):
    DEPARTMENT_ON_DUTY = "department", _("The department's person on duty")
    DEPARTMENT_LEADER = "leader", _("The department's leader on duty")
    COMMAND_OFFICE = "command", _("The city command office (the city centre's people on duty)")


class EscalationStep(models.Model):
    """One step of what happens when a work order misses a deadline (to acknowledge, be on site or report).

    Steps run in the order of their minutes past the deadline; a step's
    people are told again every ``repeat_every_minutes`` until the next step
    or the order moves on.
    """

    target = models.CharField(_("who is told"), max_length=12, choices=EscalationTarget.choices, unique=True)
    minutes_overdue = models.PositiveIntegerField(
        _("minutes past the deadline"), help_text=_("0: as soon as the deadline passes.")
    )
    repeat_every_minutes = models.PositiveIntegerField(
        _("remind again every (minutes)"), default=0, help_text=_("0: tell them once.")
    )

    class Meta:
        ordering = ["minutes_overdue", "id"]
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")

    def __str__(self) -> str:
        return f"{self.get_target_display()} (+{self.minutes_overdue} min)"
