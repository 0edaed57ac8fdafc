"""Notifications: what the platform tells a person, and what it sends to a department's own system.

Below monitoring in the layers: it knows people and departments only.
Dispatch (and any app above) decides who hears of what and calls
``notifications.services``; this app delivers, by the channels each person
chose, once per transition.
"""

import secrets
from enum import nonmember

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citysafety.choices import AMBER, BLUE, GREY, RED, TEAL, ChoiceSet
from organisation.models import Department

# Warning levels as numbers (1 = Level I, the most severe). The warning app's
# Level lies above this app; the numbers are the shared contract.
LEVELS = (1, 2, 3)
LEVEL_CHOICES = [(1, _("Level I")), (2, _("Level II")), (3, _("Level III"))]


class NotificationKind(ChoiceSet, models.TextChoices):
    WORK_ORDER_DISPATCHED = "dispatched", _("Work order dispatched")
    WORK_ORDER_REDISPATCHED = "redispatched", _("Work order dispatched again")
    REPORT_SENT_BACK = "sent_back", _("Report sent back")
    DEADLINE_REMINDER = "reminder", _("Deadline reminder")
    ESCALATED_TO_LEADER = "to_leader", _("Escalated to the leader on duty")
    ESCALATED_TO_COMMAND = "to_command", _("Escalated to the city command office")
    LEVEL_ONE_WARNING = "level_one", _("Level I warning")
    GATEWAY_SILENT = "gw_silent", _("Gateway gone silent")
    GATEWAY_HEARD = "gw_heard", _("Gateway heard again")

    colours = nonmember(
        {
            "WORK_ORDER_DISPATCHED": BLUE,
            "WORK_ORDER_REDISPATCHED": BLUE,
            "REPORT_SENT_BACK": AMBER,
            "DEADLINE_REMINDER": AMBER,
            "ESCALATED_TO_LEADER": RED,
            "ESCALATED_TO_COMMAND": RED,
            "LEVEL_ONE_WARNING": RED,
            "GATEWAY_SILENT": AMBER,
            "GATEWAY_HEARD": TEAL,
        }
    )


class Channel(models.TextChoices):
    IN_APP = "in_app", _("In the platform")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")


# What a person without preferences receives by each channel: everything in
# the platform, Levels I and II by e-mail, Level I by SMS.
DEFAULT_LEVELS = {Channel.IN_APP: [1, 2, 3], Channel.EMAIL: [1, 2], Channel.SMS: [1]}


class Notification(models.Model):
    """One thing told to one person. ``key`` names the transition it reports:
    the same transition never notifies the same person twice (storm control)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notifications", verbose_name=_("recipient")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=NotificationKind.choices)
    level = models.PositiveSmallIntegerField(_("level"), choices=LEVEL_CHOICES)
    # The department whose matter this is (empty: the city's): a person
    # outside it who is no duty officer is never told.
    department = models.ForeignKey(
        Department, models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("department")
    )
    # The sentence's parameters: the text is written in the reader's language.
    data = models.JSONField(_("data"), default=dict, blank=True)
    link = models.CharField(_("link"), max_length=200, blank=True)
    key = models.CharField(_("event key"), max_length=120)
    shown_in_app = models.BooleanField(_("shown in the platform"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    texted_at = models.DateTimeField(_("SMS sent at"), null=True, blank=True)
    # The channels chosen when it was made, and when its sending was handed
    # to the worker: a notification made while the broker was down (or by a
    # process that died before handing it over) is found by the sweep.
    email_wanted = models.BooleanField(_("e-mail wanted"), default=False, db_default=False)
    sms_wanted = models.BooleanField(_("SMS wanted"), default=False, db_default=False)
    queued_at = models.DateTimeField(_("handed to the worker at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(fields=["recipient", "key"], name="notification_once_per_recipient_and_event")
        ]
        indexes = [
            models.Index(
                fields=["recipient", "created_at"],
                condition=models.Q(read_at__isnull=True, shown_in_app=True),
                name="notification_unread_idx",
            ),
            models.Index(fields=["recipient", "created_at", "id"], name="notification_recipient_idx"),
            models.Index(
                fields=["created_at"],
                condition=models.Q(queued_at__isnull=True) & (models.Q(email_wanted=True) | models.Q(sms_wanted=True)),
                name="notification_unqueued_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient}"


class NotificationPreference(models.Model):
    """Which levels a person hears of by which channel, and where."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notification_preference", verbose_name=_("user")
    )
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True, help_text=_("For SMS notifications."))
    # E-mail and SMS are read away from the platform, where the language the
    # person chose in the browser is not known: it is kept here.
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Of e-mails and text messages; empty: the platform's language."),
    )
    in_app_levels = ArrayField(
        models.PositiveSmallIntegerField(choices=LEVEL_CHOICES),
        default=list,
        blank=True,
        verbose_name=_("levels in the platform"),
        help_text=_("Comma-separated levels, 1 = Level I (most severe): e.g. 1,2,3."),
    )
    email_levels = ArrayField(
        models.PositiveSmallIntegerField(choices=LEVEL_CHOICES),
        default=list,
        blank=True,
        verbose_name=_("levels by e-mail"),
        help_text=_("Comma-separated levels, 1 = Level I (most severe): e.g. 1,2."),
    )
    sms_levels = ArrayField(
        models.PositiveSmallIntegerField(choices=LEVEL_CHOICES),
        default=list,
        blank=True,
        verbose_name=_("levels by SMS"),
        help_text=_("Comma-separated levels, 1 = Level I (most severe): e.g. 1."),
    )

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return str(self.user)

    def levels(self, channel: str) -> list[int]:
        return {Channel.IN_APP: self.in_app_levels, Channel.EMAIL: self.email_levels, Channel.SMS: self.sms_levels}[
            channel
        ]


class WebhookEndpoint(models.Model):
    """A department's own system, told of its work orders by a signed JSON POST."""

    department = models.ForeignKey(
        Department, models.CASCADE, related_name="webhook_endpoints", verbose_name=_("department")
    )
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(
        _("signing secret"),
        max_length=80,
        editable=False,
        help_text=_("The receiver checks each request's HMAC-SHA256 signature with it."),
    )
    levels = ArrayField(
        models.PositiveSmallIntegerField(choices=LEVEL_CHOICES),
        default=list,
        blank=True,
        verbose_name=_("levels"),
        help_text=_("Comma-separated levels sent to this system; empty sends every level."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["department", "url"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return f"{self.department} → {self.url}"

    def save(self, *args, **kwargs) -> None:
        if not self.secret:
            self.secret = self.new_secret()
        super().save(*args, **kwargs)

    @staticmethod
    def new_secret() -> str:
        return secrets.token_urlsafe(32)

    def takes(self, level: int) -> bool:
        return self.is_active and (not self.levels or level in self.levels)


class DeliveryStatus(ChoiceSet, models.TextChoices):
    PENDING = "pending", _("Pending")
    RETRYING = "retrying", _("Retrying")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")

    colours = nonmember({"PENDING": BLUE, "RETRYING": AMBER, "DELIVERED": TEAL, "FAILED": GREY})


class WebhookDelivery(models.Model):
    """One event sent to one endpoint, with the outcome of its last attempt (the delivery log)."""

    endpoint = models.ForeignKey(WebhookEndpoint, models.CASCADE, related_name="deliveries", verbose_name=_("endpoint"))
    key = models.CharField(_("event key"), max_length=120)
    event = models.CharField(_("event"), max_length=40)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    response_code = models.PositiveSmallIntegerField(_("last response code"), null=True, blank=True)
    error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "key"], name="webhook_delivery_once_per_event"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint.url}"
