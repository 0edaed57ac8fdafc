"""The pages of reports: response times, and a warning's event summary."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from citysafety import errors
from citysafety.api import status_of
from organisation.roles import is_duty_officer
from reports import performance, summaries
from reports.performance import STEPS

# The widest bar of a chart, in the SVG's units.
BAR_WIDTH = 300
BAR_HEIGHT = 30


def _chart(title: str, rows: list[dict], step: str) -> dict:
    """One chart: per group, the median and the 90th percentile as bars
    scaled to the largest value of the chart."""
    median_key, p90_key = f"{step}_median_minutes", f"{step}_p90_minutes"
    largest = max((row[key] or 0 for row in rows for key in (median_key, p90_key)), default=0)

    def width(value: float | None) -> int:
        return 0 if not largest or value is None else max(2, round(BAR_WIDTH * value / largest))

    bars = [
        {
            "group": row["group"],
            "median": row[median_key],
            "median_width": width(row[median_key]),
            "p90": row[p90_key],
            "p90_width": width(row[p90_key]),
            "y": BAR_HEIGHT * n,
        }
        for n, row in enumerate(rows)
    ]
    return {"title": title, "bars": bars, "height": BAR_HEIGHT * len(rows)}


@login_required
def response_times(request: HttpRequest) -> HttpResponse:
    by = request.GET.get("by") or None
    context = {
        "rows": [],
        "charts": [],
        "by": by or "department",
        "start": request.GET.get("start", ""),
        "end": request.GET.get("end", ""),
        "error": None,
        "groupings": [("department", _("Department")), ("domain", _("Risk domain"))],
        "bar_width": BAR_WIDTH,
    }
    try:
        period = performance.period_parse(request.GET.get("start") or None, request.GET.get("end") or None)
        by = performance.grouping_parse(by)
    except errors.InvalidInputError as error:
        context["error"] = str(error)
        return render(request, "reports/response_times.html", context, status=400)
    rows = performance.response_times(user=request.user, period=period, by=by)
    titles = {
        "acknowledge": _("Minutes to acknowledge"),
        "arrive": _("Minutes to arrive on site"),
        "close": _("Minutes to close"),
    }
    context.update(
        rows=rows,
        by=by,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        charts=[_chart(titles[step], rows, step) for step, _end in STEPS],
        own_department_only=not is_duty_officer(request.user),
    )
    return render(request, "reports/response_times.html", context)


@login_required
def event_summary(request: HttpRequest, warning_id: int) -> HttpResponse:
    try:
        summary = summaries.event_summary_visible(user=request.user, warning_id=warning_id)
    except errors.NotFoundError as error:
        raise Http404(str(error)) from None
    status = 200
    if request.method == "POST":
        try:
            summaries.event_summary_edit(
                user=request.user,
                warning_id=warning_id,
                text_zh=request.POST.get("text_zh", ""),
                text_en=request.POST.get("text_en", ""),
                archive="archive" in request.POST,
            )
        except errors.DomainError as error:
            messages.error(request, str(error))
            status = status_of(error)
        else:
            messages.success(
                request, _("The summary is archived.") if "archive" in request.POST else _("The summary is saved.")
            )
            return redirect("event-summary", warning_id=warning_id)
        # The page shows what the person wrote, not what is stored, so that
        # nothing typed is lost to a refusal.
        summary.text_zh = request.POST.get("text_zh", "")
        summary.text_en = request.POST.get("text_en", "")
    return render(
        request,
        "reports/event_summary.html",
        {"summary": summary, "warning": summary.warning, "may_edit": is_duty_officer(request.user)},
        status=status,
    )
