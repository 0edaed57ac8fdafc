"""The closed-warning search: the archive of closed warnings, for duty officers.

Server-rendered, paged by keyset like the API (``citysafety.api``), so a
search over years of history answers as fast on its hundredth page as on its
first.
"""

from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from citysafety import errors
from citysafety.api import count_estimated, cursor_decode, keyset_page, listing_scope
from citysafety.choices import choices_json
from monitoring.models import Gateway, Sensor, SensorType
from organisation.models import District
from organisation.roles import is_duty_officer
from warning import selectors, silences, verification
from warning.api.serializers import UnverifiedWarningSerializer
from warning.models import FalseAlarmReason, Level, WarningStatus

PAGE_SIZE = 50


class ClosedWarningSearchForm(forms.Form):
    opened_from = forms.DateField(
        label=_("Opened from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    opened_to = forms.DateField(
        label=_("Opened until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Including this day."),
    )
    sensor = forms.CharField(
        label=_("Sensor"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Code or part of the name")}),
    )
    district = forms.ChoiceField(label=_("District"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].choices = [
            ("", _("All districts")),
            *District.objects.order_by("code").values_list("code", "name"),
        ]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("opened_from"), cleaned.get("opened_to")
        if start and end and end < start:
            self.add_error(
                "opened_to", _("The end of the period comes before its start (%(start)s).") % {"start": start}
            )
        return cleaned


def _day_start(day) -> datetime:
    """Midnight of a day in the platform's time zone (Beijing time), as people mean a date."""
    return timezone.make_aware(datetime.combine(day, time.min))


@login_required
def closed_warnings(request: HttpRequest) -> HttpResponse:
    if not is_duty_officer(request.user):
        raise PermissionDenied
    form = ClosedWarningSearchForm(request.GET)
    context = {"form": form, "levels": {level.value: level for level in Level}, "page": None, "error": None}
    if not form.is_valid():
        return render(request, "warning/closed_warnings.html", context, status=400)
    data = form.cleaned_data
    warnings = selectors.closed_warnings_search(
        request.user,
        opened_from=_day_start(data["opened_from"]) if data["opened_from"] else None,
        opened_before=_day_start(data["opened_to"] + timedelta(days=1)) if data["opened_to"] else None,
        sensor=data["sensor"] or None,
        district=data["district"] or None,
    )
    scope = listing_scope(path=request.path, params=dict(request.GET.lists()), user_id=request.user.pk)
    try:
        raw = request.GET.get("cursor") or None
        position = cursor_decode(raw, scope=scope) if raw else None
    except errors.InvalidInputError as error:
        context["error"] = str(error)
        return render(request, "warning/closed_warnings.html", context, status=400)
    count, estimated = position.count if position and position.count else count_estimated(warnings)
    page = keyset_page(
        warnings, field="opened_at", position=position, page_size=PAGE_SIZE, scope=scope, count=(count, estimated)
    )

    def link(cursor: str | None) -> str | None:
        if cursor is None:
            return None
        query = request.GET.copy()
        query["cursor"] = cursor
        return f"?{query.urlencode()}"

    context.update(
        page=page,
        count=count,
        count_is_estimate=estimated,
        newer=link(page.previous_cursor),
        older=link(page.next_cursor),
        first=None if position is None else "?" + _without_cursor(request),
    )
    return render(request, "warning/closed_warnings.html", context)


def _without_cursor(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("cursor", None)
    return query.urlencode()


# Rows rendered into the verification queue for its first paint; the page
# then loads the rest (and stays current) through the API and the websocket.
QUEUE_FIRST_PAINT = 200


@login_required
def verification_queue(request: HttpRequest) -> HttpResponse:
    """研判: the warnings waiting for a duty officer's verdict, with their age, live."""
    if not is_duty_officer(request.user):
        raise PermissionDenied
    first = keyset_page(
        verification.unverified_warnings(request.user).select_related("verified_by"),
        field="opened_at",
        position=None,
        page_size=QUEUE_FIRST_PAINT,
        scope="",
    )
    config = {
        "urls": {
            "unverified": reverse("warning-unverified"),
            "confirm": reverse("warning-confirm", args=[0]),
            "falseAlarm": reverse("warning-false-alarm", args=[0]),
            "dashboard": reverse("dashboard"),
        },
        "warnings": UnverifiedWarningSerializer(first.rows, many=True).data,
        "warningsComplete": first.next_cursor is None,
        "choices": choices_json({"level": Level, "warningStatus": WarningStatus, "reason": FalseAlarmReason}),
    }
    return render(request, "warning/verification_queue.html", {"config": config})


# --- Silences (maintenance windows) ------------------------------------------------


class SilenceForm(forms.Form):
    """A silence from the page: one target (a sensor by code, or a gateway,
    district or sensor type), why, and until when."""

    sensor = forms.CharField(
        label=_("Sensor"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"placeholder": _("Sensor code")}),
    )
    gateway = forms.ModelChoiceField(label=_("Gateway"), required=False, queryset=Gateway.objects.order_by("code"))
    district = forms.ModelChoiceField(
        label=_("District"), required=False, queryset=District.objects.defer("boundary").order_by("code")
    )
    sensor_type = forms.ModelChoiceField(
        label=_("Sensor type"), required=False, queryset=SensorType.objects.order_by("code")
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    starts_at = forms.DateTimeField(
        label=_("Starts at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Empty: now."),
    )
    ends_at = forms.DateTimeField(label=_("Expires at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "select" if isinstance(field, forms.ModelChoiceField) else "input"
        # The page's inputs show local time to the minute, as people read it.
        for name in ("starts_at", "ends_at"):
            self.fields[name].widget.format = "%Y-%m-%dT%H:%M"

    def clean_sensor(self) -> Sensor | None:
        code = (self.cleaned_data.get("sensor") or "").strip()
        if not code:
            return None
        sensor = Sensor.objects.filter(code=code).only("id", "code", "name").first()
        if sensor is None:
            raise forms.ValidationError(_("No sensor has the code %(code)s.") % {"code": code})
        return sensor


@login_required
def silence_list(request: HttpRequest) -> HttpResponse:
    """Silences in force and to come, then those that ended, with who set them and why; and a form for a new one."""
    if not is_duty_officer(request.user):
        raise PermissionDenied
    status = 200
    if request.method == "POST":
        form = SilenceForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                silence = silences.silence_create(
                    user=request.user,
                    reason=data["reason"],
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    sensor=data["sensor"],
                    gateway=data["gateway"],
                    district=data["district"],
                    sensor_type=data["sensor_type"],
                )
            except errors.InvalidInputError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
            else:
                messages.success(request, _("Silence of %(target)s saved.") % {"target": silence.target})
                return redirect("silences")
        status = 400
    else:
        initial = {"ends_at": timezone.localtime() + timedelta(hours=2)}
        sensor_id = request.GET.get("sensor")
        if sensor_id and sensor_id.isdigit():
            sensor = Sensor.objects.filter(pk=int(sensor_id)).only("code").first()
            if sensor is not None:
                initial["sensor"] = sensor.code
        form = SilenceForm(initial=initial)
    now = timezone.now()
    listed = list(silences.silences_listed()[:200])
    context = {
        "form": form,
        "current": [s for s in listed if s.ends_at > now],
        "ended": [s for s in listed if s.ends_at <= now],
        "now": now,
    }
    return render(request, "warning/silences.html", context, status=status)


@login_required
@require_POST
def silence_end(request: HttpRequest, silence_id: int) -> HttpResponse:
    if not is_duty_officer(request.user):
        raise PermissionDenied
    try:
        silence = silences.silence_end(silence_id=silence_id, user=request.user)
    except errors.DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Silence of %(target)s ended.") % {"target": silence.target})
    return redirect("silences")
