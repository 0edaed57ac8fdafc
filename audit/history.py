"""An object's audit events as a person reads them: when, who, what, and each field before and after."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import models
from django.utils.translation import gettext as _

from audit.models import TRACKED

# Columns of an event that are pghistory's own, not the tracked row's.
_PGH_FIELDS = {"pgh_id", "pgh_created_at", "pgh_label", "pgh_obj", "pgh_context"}


@dataclass
class Change:
    field: str
    before: object
    after: object


@dataclass
class HistoryRow:
    at: datetime
    who: str
    action: str
    changes: list[Change] = field(default_factory=list)


def author(context: dict | None) -> str:
    """Who made a change: the person's user name, or the system and what it ran."""
    context = context or {}
    if context.get("username"):
        return context["username"]
    if context.get("user"):
        return _("user #%(id)s") % {"id": context["user"]}
    if context.get("task"):
        return _("system (task %(name)s)") % {"name": context["task"]}
    if context.get("command"):
        return _("system (command %(name)s)") % {"name": context["command"]}
    return _("system (no person signed in)")


def _values(event: models.Model) -> dict[str, tuple[str, object]]:
    """The tracked row an event keeps: field name → (its verbose name, its value)."""
    return {
        f.attname: (str(f.verbose_name), getattr(event, f.attname))
        for f in event._meta.concrete_fields
        if f.name not in _PGH_FIELDS
    }


def object_history(model: type[models.Model], pk: object) -> list[HistoryRow]:
    """The events of one object (present or deleted), newest first."""
    event_model = TRACKED[model._meta.concrete_model]
    rows: list[HistoryRow] = []
    before: dict | None = None
    for event in event_model.objects.filter(pgh_obj_id=pk).order_by("pgh_id"):
        values = _values(event)
        if event.pgh_label == "before_update":
            before = values
            continue
        row = HistoryRow(at=event.pgh_created_at, who=author(event.pgh_context), action="")
        if event.pgh_label == "insert":
            row.action = _("created")
            row.changes = [Change(name, None, value) for name, value in values.values() if value not in (None, "")]
        elif event.pgh_label == "update":
            row.action = _("changed")
            old = before or {}
            row.changes = [
                Change(name, old.get(attname, (name, None))[1], value)
                for attname, (name, value) in values.items()
                if attname not in old or old[attname][1] != value
            ]
        else:
            row.action = _("deleted")
            row.changes = [Change(name, value, None) for name, value in values.values() if value not in (None, "")]
        before = None
        rows.append(row)
    rows.reverse()
    return rows
