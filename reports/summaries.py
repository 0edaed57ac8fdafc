"""The event summary (反馈总结): what happened, where, who acted and how fast.

Written from the warning's data when it closes, in Chinese and in English,
and kept with the warning; the duty officer edits it, then archives it.
"""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from citysafety.errors import ConflictError, InvalidInputError, NotAllowedError, NotFoundError
from dispatch.models import WorkOrder, WorkOrderEvent, WorkOrderEventKind
from organisation.roles import is_duty_officer
from organisation.selectors import department_id_of
from reports.models import EventSummary
from warning.models import FalseAlarmReason, Level, TransitionKind, VerificationStatus, Warning, WarningStatus

LANGUAGES = ("zh-hans", "en")
MAX_TEXT_LENGTH = 20_000

# The steps of a work order's timeline that change its course, told in the
# summary with who, when and why. A transfer away is told on the order's own
# line instead: it is how that department's part ended.
STORY_KINDS = (
    WorkOrderEventKind.SENT_BACK,
    WorkOrderEventKind.VERIFIED,
    WorkOrderEventKind.RETURNED,
    WorkOrderEventKind.REDISPATCHED,
    WorkOrderEventKind.TRANSFER_IN,
)


def event_summary_write(*, warning_id: int) -> EventSummary | None:
    """Write (or write again) a closed warning's summary; idempotent.

    A summary a person has edited or archived is theirs: it is left as it is.
    """
    with transaction.atomic():
        warning = (
            Warning.objects.select_related("sensor__sensor_type__domain", "sensor__district", "closed_by")
            .filter(pk=warning_id, status=WarningStatus.CLOSED)
            .first()
        )
        if warning is None:
            return None
        summary = EventSummary.objects.select_for_update().filter(warning=warning).first()
        if summary is not None and (summary.edited_at or summary.archived_at):
            return summary
        facts = _facts(warning)
        texts = {language: _render(facts, language) for language in LANGUAGES}
        summary, _created = EventSummary.objects.update_or_create(
            warning=warning,
            defaults={
                "facts": facts,
                "text_zh": texts["zh-hans"],
                "text_en": texts["en"],
                "written_at": timezone.now(),
            },
        )
        return summary


def _person(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds() / 60))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _facts(warning: Warning) -> dict:
    """The language-neutral data the texts are written from."""
    sensor = warning.sensor
    transitions = list(warning.transitions.select_related("actor").order_by("observed_at", "created_at", "id"))
    escalations = [t for t in transitions if t.kind == TransitionKind.ESCALATED]
    # In the order the departments got them: a transfer's successor after the order it came from.
    orders = list(
        WorkOrder.objects.filter(warning=warning)
        .select_related("department")
        .order_by("created_at", "department__kind", "department__code", "id")
    )
    events: dict[int, list[WorkOrderEvent]] = {}
    for event in (
        WorkOrderEvent.objects.filter(work_order__in=orders, kind__in=[*STORY_KINDS, WorkOrderEventKind.TRANSFERRED])
        .select_related("actor")
        .order_by("created_at", "id")
    ):
        events.setdefault(event.work_order_id, []).append(event)
    return {
        "warning": warning.pk,
        "level": warning.level,
        "sensor": {"code": sensor.code, "name": sensor.name, "type": sensor.sensor_type.name},
        "unit": sensor.sensor_type.unit,
        "domain": sensor.sensor_type.domain.name,
        "district": sensor.district.name if sensor.district_id else "",
        "opened_at": warning.opened_at.isoformat(),
        "first_value": warning.first_value,
        "peak_value": warning.peak_value,
        "escalations": len(escalations),
        "recovered_at": _iso(warning.recovered_at),
        "closed_at": _iso(warning.closed_at),
        "closed_by": _person(warning.closed_by),
        "closed_while_active": warning.closed_while_active,
        "minutes_open": _minutes(warning.opened_at, warning.closed_at),
        "disposal_note": warning.disposal_note,
        "false_alarm_reason": warning.false_alarm_reason,
        "verification": _verification(warning, transitions),
        "historical": _historical(warning),
        "orders": [_order(order, events.get(order.pk, [])) for order in orders],
    }


def _verification(warning: Warning, transitions: list) -> dict | None:
    """研判: who ruled what, when, with what note; None for a warning never held for it."""
    if warning.verification == VerificationStatus.NOT_ASKED:
        return None
    verdict = next((t for t in transitions if t.kind in (TransitionKind.CONFIRMED, TransitionKind.FALSE_ALARM)), None)
    return {
        "verdict": warning.verification,
        "by": _person(warning.verified_by) or (_person(verdict.actor) if verdict else ""),
        "at": _iso(warning.verified_at),
        "note": verdict.note if verdict else "",
        "reason": warning.false_alarm_reason,
    }


def _historical(warning: Warning) -> dict | None:
    """An episode found among late or back-filled readings: recorded closed when its readings
    were imported (``closed_at``), it had ended long before (``ended_at``, as the closed list says)."""
    if not warning.is_historical:
        return None
    return {
        "imported_at": _iso(warning.closed_at),
        "ended_at": _iso(warning.ended_at),
        "minutes": _minutes(warning.opened_at, warning.ended_at),
    }


def _order(order: WorkOrder, events: list[WorkOrderEvent]) -> dict:
    transfer = next((e for e in reversed(events) if e.kind == WorkOrderEventKind.TRANSFERRED), None)
    return {
        "department": order.department.name,
        "status": order.status,
        "acknowledge_minutes": _minutes(order.created_at, order.acknowledged_at),
        "on_site_minutes": _minutes(order.created_at, order.on_site_at),
        "report_minutes": _minutes(order.created_at, order.reported_at),
        "overdue": order.is_overdue,
        "report": order.report,
        "cause": order.report_cause,
        "actions": order.report_actions,
        "result": order.report_result,
        "people_sent": order.people_sent,
        "vehicles_sent": order.vehicles_sent,
        "transferred": (
            {
                "to": transfer.data.get("department", ""),
                "at": _iso(transfer.created_at),
                "by": _person(transfer.actor),
                "reason": transfer.note,
            }
            if transfer is not None
            else None
        ),
        "story": [
            {
                "kind": event.kind,
                "at": _iso(event.created_at),
                "by": _person(event.actor),
                "note": event.note,
                "department": event.data.get("department", ""),
            }
            for event in events
            if event.kind in STORY_KINDS
        ],
    }


def _when(iso: str | None) -> str:
    return timezone.localtime(datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M") if iso else ""


def _value(value: float, unit: str) -> str:
    return f"{value:g} {unit}".strip()


def _someone(name: str) -> str:
    return name or _("a user since removed")


def _render(facts: dict, language: str) -> str:
    with translation.override(language):
        lines = [
            _("%(level)s warning #%(number)s on sensor %(code)s “%(name)s” (%(type)s), %(domain)s, %(district)s.")
            % {
                "level": Level(facts["level"]).label,
                "number": facts["warning"],
                "code": facts["sensor"]["code"],
                "name": facts["sensor"]["name"],
                "type": facts["sensor"]["type"],
                "domain": facts["domain"],
                "district": facts["district"] or _("no district"),
            },
            _("Opened %(opened)s at %(first)s; worst value %(peak)s.")
            % {
                "opened": _when(facts["opened_at"]),
                "first": _value(facts["first_value"], facts["unit"]),
                "peak": _value(facts["peak_value"], facts["unit"]),
            },
        ]
        count = facts["escalations"]
        if count:
            lines.append(
                ngettext(
                    "Escalated %(count)s time before it eased.", "Escalated %(count)s times before it eased.", count
                )
                % {"count": count}
            )
        historical = facts.get("historical")
        if historical:
            # Said first, right under the headline: what follows is an archive's, not the platform's.
            lines[1:1] = [_historical_origin(historical)]
            return "\n".join([*lines, _historical_span(facts, historical)])
        lines += _verification_lines(facts.get("verification"))
        if facts["recovered_at"]:
            lines.append(_("Back to normal %(recovered)s.") % {"recovered": _when(facts["recovered_at"])})
        elif facts["closed_while_active"]:
            lines.append(_("Closed while the sensor still read in warning."))
        minutes = facts["minutes_open"]
        lines.append(
            ngettext(
                "Closed %(closed)s by %(person)s, %(minutes)s minute after it opened.",
                "Closed %(closed)s by %(person)s, %(minutes)s minutes after it opened.",
                minutes or 0,
            )
            % {
                "closed": _when(facts["closed_at"]),
                "person": facts["closed_by"] or _("the platform"),
                "minutes": minutes,
            }
        )
        if facts["orders"]:
            lines.append(_("Departments:"))
            for order in facts["orders"]:
                lines += _order_lines(order)
        else:
            lines.append(_("No department was dispatched."))
        if facts["disposal_note"]:
            lines.append(_("Disposal note: %(note)s") % {"note": facts["disposal_note"]})
        return "\n".join(lines)


def _historical_origin(historical: dict) -> str:
    """A historical warning was never the platform's to close: where it came from."""
    return _(
        "A historical record imported from the archive on %(imported)s: its readings arrived after"
        " the event had ended, so nothing was dispatched."
    ) % {"imported": _when(historical["imported_at"])}


def _historical_span(facts: dict, historical: dict) -> str:
    """How long the episode itself lasted, not how long after it the import came."""
    minutes = historical["minutes"] or 0
    return ngettext(
        "The episode lasted %(minutes)s minute, from %(opened)s to %(ended)s.",
        "The episode lasted %(minutes)s minutes, from %(opened)s to %(ended)s.",
        minutes,
    ) % {"minutes": minutes, "opened": _when(facts["opened_at"]), "ended": _when(historical["ended_at"])}


def _verification_lines(verification: dict | None) -> list[str]:
    if verification is None:
        return []
    params = {"person": _someone(verification["by"]), "time": _when(verification["at"])}
    if verification["verdict"] == VerificationStatus.CONFIRMED:
        lines = [_("Verification: %(person)s confirmed the warning at %(time)s.") % params]
    elif verification["verdict"] == VerificationStatus.FALSE_ALARM:
        lines = [
            _("Verification found a false alarm: %(reason)s. Ruled by %(person)s at %(time)s.")
            % {**params, "reason": FalseAlarmReason(verification["reason"]).label}
        ]
    else:
        lines = [_("Closed while still awaiting verification.")]
    if verification["note"]:
        lines.append(_("Verification note: %(note)s") % {"note": verification["note"]})
    return lines


def _order_lines(order: dict) -> list[str]:
    steps = []
    transferred = order.get("transferred")
    if order["acknowledge_minutes"] is not None:
        steps.append(_("acknowledged after %(minutes)s min") % {"minutes": order["acknowledge_minutes"]})
    elif not transferred:
        steps.append(_("never acknowledged"))
    if order.get("on_site_minutes") is not None:
        steps.append(_("on site after %(minutes)s min") % {"minutes": order["on_site_minutes"]})
    if order["report_minutes"] is not None:
        steps.append(_("reported after %(minutes)s min") % {"minutes": order["report_minutes"]})
    if order["overdue"]:
        steps.append(_("missed its acknowledgement deadline"))
    if transferred:
        steps.append(
            _("transferred to %(department)s at %(time)s by %(person)s")
            % {"department": transferred["to"], "time": _when(transferred["at"]), "person": _someone(transferred["by"])}
        )
    # Translators: "- Department: step, step" — the colon after a department's name.
    line = _("- %(department)s: ") % {"department": order["department"]}
    line += pgettext("joins the steps of a department's answer", ", ").join(steps)
    if order["report"]:
        line += _(". Report: %(report)s") % {"report": order["report"]}
    if transferred:
        line += _(". Reason for the transfer: %(reason)s") % {"reason": transferred["reason"]}
    lines = [line]
    details = [
        (_("Cause"), order.get("cause")),
        (_("Actions taken"), order.get("actions")),
        (_("Result"), order.get("result")),
    ]
    lines += [f"  {label}: {text}" for label, text in details if text]
    people, vehicles = order.get("people_sent") or 0, order.get("vehicles_sent") or 0
    if people or vehicles:
        lines.append(
            "  "
            + _("Sent %(people)s and %(vehicles)s.")
            % {
                "people": ngettext("%(count)s person", "%(count)s people", people) % {"count": people},
                "vehicles": ngettext("%(count)s vehicle", "%(count)s vehicles", vehicles) % {"count": vehicles},
            }
        )
    lines += ["  " + _story_line(step) for step in order.get("story", [])]
    return lines


def _story_line(step: dict) -> str:
    """One step that changed the order's course: when, who, what and why."""
    params = {
        "time": _when(step["at"]),
        "person": _someone(step["by"]),
        "note": step["note"],
        "department": step["department"],
    }
    kind, noted = step["kind"], bool(step["note"])
    if kind == WorkOrderEventKind.SENT_BACK:
        return _("%(time)s: report sent back by %(person)s. Reason: %(note)s") % params
    if kind == WorkOrderEventKind.VERIFIED:
        return _("%(time)s: report accepted by %(person)s.") % params
    if kind == WorkOrderEventKind.RETURNED:
        return _("%(time)s: returned to the duty officer by %(person)s. Reason: %(note)s") % params
    if kind == WorkOrderEventKind.REDISPATCHED:
        if noted:
            return _("%(time)s: dispatched to the department again by %(person)s. Note: %(note)s") % params
        return _("%(time)s: dispatched to the department again by %(person)s.") % params
    return _("%(time)s: received by transfer from %(department)s.") % params


def event_summary_visible(*, user: AbstractBaseUser, warning_id: int) -> EventSummary:
    """The summary, for duty officers and the departments that had an order on the warning.

    A warning closed before summaries were written gets its summary now.
    """
    if not _may_read(user, warning_id):
        raise NotFoundError(_("No event summary for warning #%(number)s.") % {"number": warning_id})
    details = EventSummary.objects.select_related("warning__sensor", "edited_by", "archived_by")
    summary = details.filter(warning_id=warning_id).first()
    if summary is None and event_summary_write(warning_id=warning_id) is not None:
        summary = details.get(warning_id=warning_id)
    if summary is None:
        raise NotFoundError(_("No event summary for warning #%(number)s.") % {"number": warning_id})
    return summary


def _may_read(user: AbstractBaseUser, warning_id: int) -> bool:
    if is_duty_officer(user):
        return True
    department_id = department_id_of(user)
    return bool(department_id) and WorkOrder.objects.filter(warning_id=warning_id, department_id=department_id).exists()


def event_summary_edit(
    *, user: AbstractBaseUser, warning_id: int, text_zh: str, text_en: str, archive: bool = False
) -> EventSummary:
    """The duty officer's wording; ``archive`` makes it the record."""
    if not is_duty_officer(user):
        raise NotAllowedError(_("Only duty officers may edit an event summary."))
    texts = {"text_zh": (text_zh or "").strip(), "text_en": (text_en or "").strip()}
    for field, text in texts.items():
        if not text:
            raise InvalidInputError(_("Write the summary; it cannot be empty."), field=field)
        if len(text) > MAX_TEXT_LENGTH:
            raise InvalidInputError(
                ngettext(
                    "Keep the summary under %(count)s character.",
                    "Keep the summary under %(count)s characters.",
                    MAX_TEXT_LENGTH,
                )
                % {"count": MAX_TEXT_LENGTH},
                field=field,
            )
    with transaction.atomic():
        summary = EventSummary.objects.select_for_update().filter(warning_id=warning_id).first()
        if summary is None:
            raise NotFoundError(_("No event summary for warning #%(number)s.") % {"number": warning_id})
        if summary.archived_at:
            raise ConflictError(
                _("This summary was archived by %(person)s at %(when)s and can no longer be changed.")
                % {"person": _person(summary.archived_by), "when": _when(summary.archived_at.isoformat())}
            )
        now = timezone.now()
        if texts["text_zh"] != summary.text_zh or texts["text_en"] != summary.text_en:
            summary.text_zh, summary.text_en = texts["text_zh"], texts["text_en"]
            summary.edited_at, summary.edited_by = now, user
        if archive:
            summary.archived_at, summary.archived_by = now, user
        summary.save()
    return summary
