"""What the warning app sends to the duty officers' screens, after commit.

A level or status change is pushed at once (``warning.transitions.record``);
a new value alone is coalesced (below). The payloads are
``warning.payloads``' rows, the API's own shape, built without DRF.
"""

import logging

from django.conf import settings
from django.db import transaction

from citysafety import after_commit, realtime
from warning import evaluation_queue, payloads, selectors
from warning.models import GatewayOutage

log = logging.getLogger(__name__)


def push_warning(*, warning_id: int) -> None:
    """Send the warning as it now stands to the duty officers' screens."""
    push_warnings(warning_ids=[warning_id])


def push_warnings(*, warning_ids: list[int]) -> None:
    """Send the warnings as they now stand to the duty officers' screens (one query for all)."""
    realtime.send_many(
        ([realtime.DUTY_GROUP], "warning.changed", payload) for payload in selectors.warning_payloads(warning_ids)
    )


def warnings_push_after_commit(*, warning_ids: list[int]) -> None:
    """Push the warnings once the transaction commits: every warning a
    transaction changed goes out from one callback, read in one query."""
    after_commit.collect("warning.push", warning_ids, lambda ids: push_warnings(warning_ids=ids))


# --- Value updates, coalesced ---------------------------------------------------
# A level or status change is pushed at once (``transitions.record``). A new
# value alone is pushed at most once per warning per WARNING_VALUE_PUSH_SECONDS:
# the first change of a quiet warning sets a Redis key (NX) and schedules one
# push that long after; changes meanwhile find the key and ride along, since
# the push reads the warning as it then stands. The push clears the key
# before reading, so a change committed after that read starts a new window.
VALUE_PUSH_KEY = "citysafety:warning:value-push:{}"
# The key outlives a lost task by this long at most (a broker purge).
VALUE_PUSH_KEY_SECONDS = 30


def warning_value_changed(*, warning_id: int) -> None:
    """After commit: have the warning's new value pushed, coalesced (see above)."""
    transaction.on_commit(lambda: _value_push_schedule(warning_id))


def _value_push_schedule(warning_id: int) -> None:
    # The one import that goes up: tasks import the services, which import
    # this module (listed in pyproject.toml's app-layers contract).
    from warning.tasks import push_warning_value

    try:
        if evaluation_queue.client().set(VALUE_PUSH_KEY.format(warning_id), 1, nx=True, ex=VALUE_PUSH_KEY_SECONDS):
            try:
                push_warning_value.apply_async((warning_id,), countdown=settings.WARNING_VALUE_PUSH_SECONDS)
            except Exception:
                evaluation_queue.client().delete(VALUE_PUSH_KEY.format(warning_id))
                raise
    except Exception:
        # Best effort, like every push: the screens resync from the API and
        # the next change of the warning pushes it again.
        log.warning("Could not schedule the value push of warning %s", warning_id, exc_info=True)


def warning_value_push(*, warning_id: int) -> None:
    """The scheduled push: open the next window, then send the warning as it stands."""
    try:
        evaluation_queue.client().delete(VALUE_PUSH_KEY.format(warning_id))
    except Exception:
        log.warning("Could not clear the value push window of warning %s", warning_id, exc_info=True)
    push_warning(warning_id=warning_id)


# --- Gateway outages and the verification queue ---------------------------------


def outages_push(*, outage_ids: list[int]) -> None:
    """Send these outages as they now stand to the duty officers' screens, in
    one message: recovered ones too, so the screens drop them."""
    outages = GatewayOutage.objects.filter(pk__in=outage_ids).select_related("gateway").order_by("id")
    payload = {"outages": [payloads.outage_row(outage) for outage in outages]}
    realtime.send([realtime.DUTY_GROUP], "gateway_outage.changed", payload)


def push_verification(*, warning_id: int) -> None:
    """Send the warning's queue row to the duty officers: it joined the queue, or left it with a verdict."""
    warning = selectors.warnings_with_details().select_related("verified_by").filter(pk=warning_id).first()
    if warning is not None:
        realtime.send([realtime.DUTY_GROUP], "verification.changed", payloads.UnverifiedWarningRows().row(warning))
