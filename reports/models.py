from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from warning.models import Warning


class EventSummary(models.Model):
    """The event summary (事件总结) written when a warning closes.

    Written from the warning's data in both languages; the duty officer may
    edit either text until the summary is archived, after which it is the
    record and no longer changes. ``facts`` keeps what the texts were
    written from, so they can be written again in a new wording.
    """

    warning = models.OneToOneField(Warning, models.CASCADE, related_name="summary", verbose_name=_("warning"))
    text_zh = models.TextField(_("summary (Chinese)"))
    text_en = models.TextField(_("summary (English)"))
    facts = models.JSONField(_("facts"), default=dict)
    written_at = models.DateTimeField(_("written at"))
    edited_at = models.DateTimeField(_("edited at"), null=True, blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("edited by")
    )
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("archived by"),
    )

    class Meta:
        verbose_name = _("event summary")
        verbose_name_plural = _("event summaries")

    def __str__(self) -> str:
        return f"#{self.warning_id}"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def text_in(self, language: str) -> str:
        return self.text_zh if language.lower().startswith("zh") else self.text_en
