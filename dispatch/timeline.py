"""The sentences of a work order's timeline, written in the reader's language.

A timeline step stores what happened as data (``WorkOrderEvent.data``); the
sentence is made when someone reads it: by the API in the request's
language, and by the pages from the templates below, which they receive in
their own language (a pushed step reaches readers of both languages).
"""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from dispatch.models import WorkOrderEventKind
from warning.models import FalseAlarmReason, Level

# One template per kind of step the platform writes by itself. Placeholders
# are ``%(name)s`` only: the pages fill them with Django's JavaScript
# ``interpolate``, which knows no other. A template with a count is chosen
# by it (ngettext): PLURAL_BY names the count.
SENTENCES = {
    WorkOrderEventKind.CREATED: ngettext_lazy(
        "Routed at %(level)s; acknowledge within %(minutes)s minute.",
        "Routed at %(level)s; acknowledge within %(minutes)s minutes.",
        "minutes",
    ),
    WorkOrderEventKind.ESCALATED: _("The warning rose to %(level)s."),
    WorkOrderEventKind.REOPENED: ngettext_lazy(
        "The warning is active again: acknowledge within %(minutes)s minute and report anew.",
        "The warning is active again: acknowledge within %(minutes)s minutes and report anew.",
        "minutes",
    ),
    WorkOrderEventKind.ASSIGNED: _("Assigned to %(person)s."),
    WorkOrderEventKind.REPORTED: ngettext_lazy(
        "Plan actions done: %(actions_done)s of %(actions_total)s; %(photos)s photo.",
        "Plan actions done: %(actions_done)s of %(actions_total)s; %(photos)s photos.",
        "photos",
    ),
    WorkOrderEventKind.TRANSFERRED: _("Transferred to %(department)s."),
    WorkOrderEventKind.TRANSFER_IN: ngettext_lazy(
        "Transferred here from %(department)s; acknowledge within %(minutes)s minute.",
        "Transferred here from %(department)s; acknowledge within %(minutes)s minutes.",
        "minutes",
    ),
    WorkOrderEventKind.SENT_BACK: ngettext_lazy(
        "Report again within %(minutes)s minute.",
        "Report again within %(minutes)s minutes.",
        "minutes",
    ),
    WorkOrderEventKind.REDISPATCHED: ngettext_lazy(
        "Dispatched to the department again; acknowledge within %(minutes)s minute.",
        "Dispatched to the department again; acknowledge within %(minutes)s minutes.",
        "minutes",
    ),
    WorkOrderEventKind.REMINDED: ngettext_lazy(
        "%(minutes)s minute past the deadline to %(stage)s: the department's person on duty was reminded (%(people)s).",
        "%(minutes)s minutes past the deadline to %(stage)s: the department's person on duty was reminded (%(people)s).",
        "minutes",
    ),
    WorkOrderEventKind.TO_LEADER: ngettext_lazy(
        "%(minutes)s minute past the deadline to %(stage)s: escalated to the department's leader on duty (%(people)s).",
        "%(minutes)s minutes past the deadline to %(stage)s: escalated to the department's leader on duty (%(people)s).",
        "minutes",
    ),
    WorkOrderEventKind.TO_COMMAND: ngettext_lazy(
        "%(minutes)s minute past the deadline to %(stage)s: escalated to the city command office (%(people)s).",
        "%(minutes)s minutes past the deadline to %(stage)s: escalated to the city command office (%(people)s).",
        "minutes",
    ),
}
PLURAL_BY = {
    WorkOrderEventKind.CREATED: "minutes",
    WorkOrderEventKind.REOPENED: "minutes",
    WorkOrderEventKind.REPORTED: "photos",
    WorkOrderEventKind.TRANSFER_IN: "minutes",
    WorkOrderEventKind.REDISPATCHED: "minutes",
    WorkOrderEventKind.SENT_BACK: "minutes",
    WorkOrderEventKind.REMINDED: "minutes",
    WorkOrderEventKind.TO_LEADER: "minutes",
    WorkOrderEventKind.TO_COMMAND: "minutes",
}
# What a deadline asks for, as the sentences above name it.
STAGES = {
    "acknowledge": _("acknowledge"),
    "arrive": _("be on site"),
    "report": _("report"),
}
# An assignment step without a person: the order is nobody's in particular again.
UNASSIGNED = _("No longer assigned to anyone.")
# A closing step when the duty officer closed a warning still in force.
CLOSED_WHILE_ACTIVE = _("Closed while the sensor was still in warning.")
# A closing step when verification found the warning a false alarm.
STOOD_DOWN = _("Stood down: the duty officer found the warning a false alarm (%(reason)s).")


def event_sentence(kind: str, data: dict) -> str:
    """The platform's sentence for one step, in the active language ("" for none)."""
    if kind == WorkOrderEventKind.CLOSED:
        if data.get("false_alarm"):
            return str(STOOD_DOWN) % {"reason": FalseAlarmReason(data["false_alarm"]).label}
        return str(CLOSED_WHILE_ACTIVE) if data.get("closed_while_active") else ""
    if kind == WorkOrderEventKind.ASSIGNED and not data:
        return str(UNASSIGNED)
    template = SENTENCES.get(kind)
    if template is None or not data:
        return ""
    params = dict(data)
    if "level" in params:
        params["level"] = Level(params["level"]).label
    if "stage" in params:
        params["stage"] = STAGES.get(params["stage"], params["stage"])
    try:
        return str(template % params)
    except (KeyError, TypeError, ValueError):
        # A step written by a later version with other data: say nothing rather than fail the order.
        return ""


def sentences_json() -> dict:
    """The templates for a page's config, in the request's language.

    A template with a count comes as ``{"count": <its name>, "forms": [...]}``,
    its forms for one and for several, which the page picks with the
    catalogue's ``pluralidx`` (the one form serves both in Chinese).
    """
    return {
        **{str(kind): _page_template(kind, template) for kind, template in SENTENCES.items()},
        "closed_while_active": str(CLOSED_WHILE_ACTIVE),
        "stood_down": str(STOOD_DOWN),
        "unassigned": str(UNASSIGNED),
        "stages": {stage: str(label) for stage, label in STAGES.items()},
    }


def _page_template(kind: str, template) -> str | dict:
    count = PLURAL_BY.get(kind)
    if count is None:
        return str(template)
    # A lazy plural given a bare number returns its form for that number,
    # placeholders unfilled (a mapping is what fills them).
    return {"count": count, "forms": [str(template % 1), str(template % 2)]}
