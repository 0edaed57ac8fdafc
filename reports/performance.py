"""How fast departments answer their work orders (反馈总结's numbers).

Medians and 90th percentiles are computed with pandas over the orders of a
period, read as one narrow query (four timestamps and a group name per
order), so a year of a city's orders (a few hundred thousand) stays a few
megabytes in memory.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from citysafety.errors import InvalidInputError
from dispatch.models import WorkOrder
from organisation.roles import is_duty_officer
from organisation.selectors import department_id_of

# The longest period one request may cover: a year and a day, so that "the
# same day last year" to today fits.
MAX_PERIOD_DAYS = 367

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)

# What the figures can be grouped by, and the column that names the group.
GROUPINGS = {
    "department": "department__name",
    "domain": "warning__sensor__sensor_type__domain__name",
}

# Each measured step: (name, the timestamp that ends it). Every step starts
# when the order was dispatched.
STEPS = (("acknowledge", "acknowledged_at"), ("arrive", "on_site_at"), ("close", "closed_at"))


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive, as people say "from the 1st to the 30th"

    @property
    def starts_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def ends_before(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))


def period_parse(raw_start: str | None, raw_end: str | None, *, today: date | None = None) -> Period:
    """The period asked for (ISO dates); the last 30 days by default.

    None is a date left out; an empty text is a date that is not one.
    """
    today = today or timezone.localdate()
    end = _date(raw_end, "end") if raw_end is not None else today
    start = _date(raw_start, "start") if raw_start is not None else end - timedelta(days=29)
    if end < start:
        raise InvalidInputError(
            _("The period ends (%(end)s) before it starts (%(start)s).") % {"end": end, "start": start}, field="end"
        )
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInputError(
            ngettext(
                "Choose a period of at most %(days)s day.", "Choose a period of at most %(days)s days.", MAX_PERIOD_DAYS
            )
            % {"days": MAX_PERIOD_DAYS},
            field="start",
        )
    return Period(start, end)


def _date(raw: str, field: str) -> date:
    try:
        # Only YYYY-MM-DD: fromisoformat also takes "20261102" and week dates.
        if not ISO_DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInputError(
            _("“%(value)s” is not a date: write it as YYYY-MM-DD.") % {"value": raw[:40]}, field=field
        ) from None


def grouping_parse(raw: str | None) -> str:
    if raw is None:
        return "department"
    if raw not in GROUPINGS:
        raise InvalidInputError(_("Group by one of: %(choices)s.") % {"choices": ", ".join(GROUPINGS)}, field="by")
    return raw


def response_times(*, user: AbstractBaseUser, period: Period, by: str) -> list[dict]:
    """Per group: orders dispatched in the period, how many were overdue,
    how many are still unacknowledged, and the median and 90th percentile
    of the minutes each step took (None when no order finished it).

    Duty officers see every department; department staff their own.
    """
    orders = WorkOrder.objects.filter(created_at__gte=period.starts_at, created_at__lt=period.ends_before)
    if not is_duty_officer(user):
        orders = orders.filter(department_id=department_id_of(user) or -1)
    columns = ["group", "created_at", *(end for _step, end in STEPS), "is_overdue"]
    frame = pd.DataFrame.from_records(
        orders.values_list(GROUPINGS[by], "created_at", *(end for _step, end in STEPS), "is_overdue"),
        columns=columns,
    )
    if frame.empty:
        return []
    frame["group"] = frame["group"].fillna(_("(none)"))
    for step, end in STEPS:
        frame[step] = (
            pd.to_datetime(frame[end], utc=True) - pd.to_datetime(frame["created_at"], utc=True)
        ).dt.total_seconds() / 60
    grouped = frame.groupby("group", sort=True)
    summary = pd.DataFrame(
        {
            "orders": grouped.size(),
            "overdue": grouped["is_overdue"].sum(),
            "unacknowledged": grouped["acknowledged_at"].apply(lambda column: int(column.isna().sum())),
        }
    )
    for step, _end in STEPS:
        summary[f"{step}_median"] = grouped[step].median()
        summary[f"{step}_p90"] = grouped[step].quantile(0.9)
    rows = []
    for name, row in summary.iterrows():
        rows.append(
            {
                "group": name,
                "orders": int(row["orders"]),
                "overdue": int(row["overdue"]),
                "unacknowledged": int(row["unacknowledged"]),
                **{
                    f"{step}_{stat}_minutes": _minutes(row[f"{step}_{stat}"])
                    for step, _end in STEPS
                    for stat in ("median", "p90")
                },
            }
        )
    return rows


def _minutes(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 1)
