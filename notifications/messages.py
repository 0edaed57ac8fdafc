"""The sentences of notifications, written in the reader's language when read.

A notification stores its kind and parameters; the text is made for each
reader (the list page, the e-mail, the SMS, the push that carries every
language of the platform).
"""

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from notifications.models import NotificationKind

# What a deadline asks for, as the sentences below name it.
STAGES = {
    "acknowledge": _("acknowledge"),
    "arrive": _("be on site"),
    "report": _("report"),
}
LEVELS = {1: _("Level I"), 2: _("Level II"), 3: _("Level III")}

# A sentence with a count is chosen by that count (ngettext): "1 minute", "15 minutes".
SENTENCES = {
    NotificationKind.WORK_ORDER_DISPATCHED: ngettext_lazy(
        "New %(level)s work order WO-%(order)s for %(department)s: %(sensor)s. Acknowledge within %(minutes)s minute.",
        "New %(level)s work order WO-%(order)s for %(department)s: %(sensor)s. Acknowledge within %(minutes)s minutes.",
        "minutes",
    ),
    NotificationKind.WORK_ORDER_REDISPATCHED: _(
        "Work order WO-%(order)s (%(level)s, %(sensor)s) is back with %(department)s. "
        "Acknowledge within %(minutes)s minutes."
    ),
    NotificationKind.REPORT_SENT_BACK: _(
        "The report on work order WO-%(order)s of %(department)s (%(level)s, %(sensor)s) was sent back "
        '("%(reason)s"). Report again within %(minutes)s minutes.'
    ),
    NotificationKind.DEADLINE_REMINDER: _(
        "Reminder: work order WO-%(order)s of %(department)s (%(level)s, %(sensor)s) is past its deadline to %(stage)s."
    ),
    NotificationKind.ESCALATED_TO_LEADER: ngettext_lazy(
        "Escalated to you as leader on duty: work order WO-%(order)s of %(department)s (%(level)s, %(sensor)s) "
        "is %(minutes)s minute past its deadline to %(stage)s.",
        "Escalated to you as leader on duty: work order WO-%(order)s of %(department)s (%(level)s, %(sensor)s) "
        "is %(minutes)s minutes past its deadline to %(stage)s.",
        "minutes",
    ),
    NotificationKind.ESCALATED_TO_COMMAND: ngettext_lazy(
        "Escalated to the city command office: work order WO-%(order)s of %(department)s (%(level)s, %(sensor)s) "
        "is %(minutes)s minute past its deadline to %(stage)s.",
        "Escalated to the city command office: work order WO-%(order)s of %(department)s (%(level)s, %(sensor)s) "
        "is %(minutes)s minutes past its deadline to %(stage)s.",
        "minutes",
    ),
    NotificationKind.LEVEL_ONE_WARNING: _(
        "Level I (red) warning at %(sensor)s (%(domain)s): %(value)s. Work orders went to %(departments)s."
    ),
    NotificationKind.GATEWAY_SILENT: ngettext_lazy(
        "Gateway %(gateway)s (%(name)s) has gone silent (%(level)s): %(sensors)s sensor sends no data. "
        "Its no-data warning is folded into this one outage; no work order is made for it.",
        "Gateway %(gateway)s (%(name)s) has gone silent (%(level)s): %(sensors)s sensors send no data. "
        "Their no-data warnings are folded into this one outage; no work orders are made for it.",
        "sensors",
    ),
    NotificationKind.GATEWAY_HEARD: ngettext_lazy(
        "Gateway %(gateway)s (%(name)s) is heard again after %(minutes)s minute of silence. "
        "Its sensors still without data now warn on their own.",
        "Gateway %(gateway)s (%(name)s) is heard again after %(minutes)s minutes of silence. "
        "Its sensors still without data now warn on their own.",
        "minutes",
    ),
}

# An e-mail's subject: what the matter is, so that a mailbox of work orders
# reads as a list of them (the order, its level, the sensor and where).
SUBJECTS = {
    NotificationKind.WORK_ORDER_DISPATCHED: _("Work order WO-%(order)s, %(level)s warning: %(place)s"),
    NotificationKind.DEADLINE_REMINDER: _("Overdue: work order WO-%(order)s, %(level)s warning: %(place)s"),
    NotificationKind.ESCALATED_TO_LEADER: _(
        "Overdue, escalated to you: work order WO-%(order)s, %(level)s warning: %(place)s"
    ),
    NotificationKind.ESCALATED_TO_COMMAND: _(
        "Overdue, escalated to the city command office: work order WO-%(order)s, %(level)s warning: %(place)s"
    ),
    NotificationKind.LEVEL_ONE_WARNING: _("Level I (red) warning: %(place)s (%(domain)s)"),
    NotificationKind.GATEWAY_SILENT: ngettext_lazy(
        "Gateway %(gateway)s (%(name)s) silent: %(sensors)s sensor without data",
        "Gateway %(gateway)s (%(name)s) silent: %(sensors)s sensors without data",
        "sensors",
    ),
    NotificationKind.GATEWAY_HEARD: _("Gateway %(gateway)s (%(name)s) heard again"),
}


def notification_text(kind: str, data: dict) -> str:
    """The sentence in the active language; the kind's name if the data do not fit."""
    params = _readable(data)
    return _filled(SENTENCES.get(kind), params, kind)


def notification_subject(kind: str, data: dict) -> str:
    """An e-mail's subject in the active language: the platform's tag, then what the matter is."""
    params = _readable(data)
    if "sensor" in params:
        params["place"] = gettext("%(sensor)s (%(code)s)") % params if params.get("code") else str(params["sensor"])
    return gettext("[City safety] %(subject)s") % {"subject": _filled(SUBJECTS.get(kind), params, kind)}


def _readable(data: dict) -> dict:
    params = dict(data)
    if "level" in params:
        params["level"] = str(LEVELS.get(params["level"], params["level"]))
    if "stage" in params:
        params["stage"] = str(STAGES.get(params["stage"], params["stage"]))
    return params


def _filled(template, params: dict, kind: str) -> str:
    """The template filled in (a plural one chooses its form by its count); the kind's name if the data do not fit."""
    try:
        return str(template % params)
    except (KeyError, TypeError, ValueError):
        return str(NotificationKind(kind).label) if kind in NotificationKind.values else kind


def notification_texts(kind: str, data: dict) -> dict[str, str]:
    """The sentence in every language of the platform, for a push whose reader's language is unknown."""
    texts = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            texts[code] = notification_text(kind, data)
    return texts
