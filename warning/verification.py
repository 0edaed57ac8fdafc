"""研判: duty officers verify warnings before (or while) they are dispatched.

A routing policy (dispatch) decides whether a warning waits for a verdict;
it asks for one with ``warning_hold``. A verdict is given once: confirmed
(dispatch routes the warning: its receiver listens for the CONFIRMED
transition) or a false alarm (the warning closes with the reason; dispatch
stands down any orders already sent). Each verdict locks the warning's row,
so of two verdicts given at the same moment the second sees the first and
is refused with who gave it and when.

False-alarm verdicts are what thresholds get tuned by: counted per rule and
per sensor below, for the admin.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from citysafety.db import retry_on_deadlock
from citysafety.errors import ConflictError, InvalidInputError, NotAllowedError, NotFoundError
from organisation.roles import is_duty_officer
from warning import pushes, selectors, transitions
from warning.models import (
    FalseAlarmReason,
    ThresholdRule,
    TransitionKind,
    VerificationStatus,
    Warning,
    WarningStatus,
)

NOTE_MAX_LENGTH = 4000


def warning_hold(*, warning: Warning) -> bool:
    """Put a warning in the verification queue (its policy asks for a verdict); True if it was not there.

    Called by dispatch inside the transaction that opened, escalated or
    reactivated the warning, with its row locked. A warning that already
    has a verdict, or already waits, is left as it is.
    """
    if warning.verification != VerificationStatus.NOT_ASKED:
        return False
    warning.verification = VerificationStatus.PENDING
    warning.verification_requested_at = timezone.now()
    warning.save(update_fields=["verification", "verification_requested_at"])
    _push_after_commit(warning.pk)
    return True


@retry_on_deadlock
def warning_confirm(*, warning_id: int, user: AbstractBaseUser, note: str = "") -> Warning:
    """Confirm a warning waiting for verification: its work orders go out (dispatch listens)."""
    note = _clean_note(note)
    with transaction.atomic():
        warning = _lock_for_verdict(warning_id, user)
        warning.verification = VerificationStatus.CONFIRMED
        warning.verified_at = timezone.now()
        warning.verified_by = user
        transitions.record(
            warning, TransitionKind.CONFIRMED, warning.level, warning.level, None, None, actor=user, note=note
        )
        _push_after_commit(warning.pk)
    return warning


@retry_on_deadlock
def warning_false_alarm(*, warning_id: int, user: AbstractBaseUser, reason: str, note: str = "") -> Warning:
    """Close a warning waiting for verification as a false alarm, with the reason.

    "Other" needs a note that says what it was. The closing is the
    FALSE_ALARM transition (not CLOSED): closed without a disposal report,
    since nothing was dispatched to handle, or what was is stood down.
    """
    if reason not in FalseAlarmReason.values:
        raise InvalidInputError(
            _("Choose the reason for the false alarm: %(reasons)s.")
            % {"reasons": ", ".join(str(label) for label in FalseAlarmReason.labels)},
            field="reason",
        )
    note = _clean_note(note)
    if reason == FalseAlarmReason.OTHER and not note:
        raise InvalidInputError(_("Say what the false alarm was: the reason is “Other”."), field="note")
    with transaction.atomic():
        warning = _lock_for_verdict(warning_id, user)
        now = timezone.now()
        label = FalseAlarmReason(reason).label
        warning.verification = VerificationStatus.FALSE_ALARM
        warning.false_alarm_reason = reason
        warning.verified_at = now
        warning.verified_by = user
        transitions.close(
            warning,
            kind=TransitionKind.FALSE_ALARM,
            disposal_note=_("False alarm: %(reason)s.") % {"reason": label} + (f" {note}" if note else ""),
            actor=user,
            note=note,
            at=now,
        )
        _push_after_commit(warning.pk)
    return warning


def _push_after_commit(warning_id: int) -> None:
    transaction.on_commit(lambda: pushes.push_verification(warning_id=warning_id))


def _clean_note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidInputError(
            ngettext(
                "Keep the note under %(max)d character.", "Keep the note under %(max)d characters.", NOTE_MAX_LENGTH
            )
            % {"max": NOTE_MAX_LENGTH},
            field="note",
        )
    return note


def _lock_for_verdict(warning_id: int, user: AbstractBaseUser) -> Warning:
    """The warning locked for a verdict, or the reason it cannot take one.

    Nothing is joined to the locked row: a verdict waiting for the lock
    reads the row as the first verdict left it (who and when).
    """
    if not is_duty_officer(user):
        raise NotAllowedError(_("Only duty officers may verify a warning."))
    warning = Warning.objects.select_for_update().filter(pk=warning_id).first()
    if warning is None:
        raise NotFoundError(_("This warning does not exist."))
    if warning.verification in (VerificationStatus.CONFIRMED, VerificationStatus.FALSE_ALARM):
        raise ConflictError(already_verified_message(warning))
    if warning.status == WarningStatus.CLOSED:
        raise ConflictError(_("This warning is already closed."))
    if warning.verification != VerificationStatus.PENDING:
        raise ConflictError(_("This warning is not awaiting verification: its routing policy dispatches it at once."))
    return warning


def already_verified_message(warning: Warning) -> str:
    """Who gave the verdict and when, for the one who comes second."""
    params = {
        "user": _person(warning.verified_by),
        "time": formats.date_format(timezone.localtime(warning.verified_at), "Y-m-d H:i:s"),
    }
    if warning.verification == VerificationStatus.CONFIRMED:
        return _("This warning was already confirmed by %(user)s at %(time)s.") % params
    return _("This warning was already closed as a false alarm by %(user)s at %(time)s (%(reason)s).") % {
        **params,
        "reason": warning.get_false_alarm_reason_display(),
    }


def _person(user: AbstractBaseUser | None) -> str:
    if user is None:
        return _("a user since removed")
    return user.get_full_name() or user.get_username()


# --- Reads -----------------------------------------------------------------------


def unverified_warnings(user: AbstractBaseUser) -> QuerySet[Warning]:
    """The verification queue: open warnings waiting for a verdict, for duty officers only.

    Department staff see nothing here: a warning held for verification has
    not been dispatched to anyone.
    """
    return (
        selectors.warnings_visible_to(user)
        .filter(verification=VerificationStatus.PENDING)
        .exclude(status=WarningStatus.CLOSED)
    )


@dataclass(frozen=True)
class VerdictCounts:
    verified: int
    false_alarms: int

    @property
    def rate(self) -> float | None:
        """False alarms per verdict given; None before any verdict."""
        return self.false_alarms / self.verified if self.verified else None


def _verdicts(key: str):
    return Warning.objects.filter(
        verification__in=[VerificationStatus.CONFIRMED, VerificationStatus.FALSE_ALARM]
    ).values(key)


def verdict_counts_by_rule(rule_ids: list[int]) -> dict[int, VerdictCounts]:
    """Per rule: verdicts given and how many were false alarms (one query)."""
    rows = (
        _verdicts("rule_id")
        .filter(rule_id__in=rule_ids)
        .annotate(
            verified=Count("id"),
            false_alarms=Count("id", filter=Q(verification=VerificationStatus.FALSE_ALARM)),
        )
    )
    return {row["rule_id"]: VerdictCounts(row["verified"], row["false_alarms"]) for row in rows}


def with_verdict_counts(rules: QuerySet[ThresholdRule]) -> QuerySet[ThresholdRule]:
    """Rules annotated with ``verdicts`` (given) and ``false_alarms``, by a subquery per rule."""

    def count(verdicts: list[str]) -> Coalesce:
        matching = (
            Warning.objects.filter(rule_id=OuterRef("pk"), verification__in=verdicts)
            .order_by()
            .values("rule_id")
            .annotate(n=Count("id"))
            .values("n")
        )
        return Coalesce(Subquery(matching), 0)

    return rules.annotate(
        verdicts=count([VerificationStatus.CONFIRMED, VerificationStatus.FALSE_ALARM]),
        false_alarms=count([VerificationStatus.FALSE_ALARM]),
    )


def noisiest_sensors(*, limit: int = 50) -> list[dict]:
    """The sensors with the most false alarms, most first: code, name, rule counts and rate."""
    rows = (
        _verdicts("sensor_id")
        .annotate(
            verified=Count("id"),
            false_alarms=Count("id", filter=Q(verification=VerificationStatus.FALSE_ALARM)),
            code=F("sensor__code"),
            name=F("sensor__name"),
        )
        .filter(false_alarms__gt=0)
        .order_by("-false_alarms", "sensor_id")[:limit]
    )
    result = []
    for row in rows:
        counts = VerdictCounts(row["verified"], row["false_alarms"])
        reasons = dict(
            Warning.objects.filter(sensor_id=row["sensor_id"], verification=VerificationStatus.FALSE_ALARM)
            .values_list("false_alarm_reason")
            .annotate(n=Count("id"))
            .values_list("false_alarm_reason", "n")
        )
        result.append({**row, "rate": counts.rate, "reasons": reasons})
    return result
