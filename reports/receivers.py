"""Reports listen to the warning app: a closed warning gets its event summary."""

from django.db import transaction

from reports.summaries import event_summary_write
from warning.models import TransitionKind

# A warning closes when a person closes it, or when verification finds it a
# false alarm: either way the event is over and gets its summary.
CLOSING_KINDS = {TransitionKind.CLOSED, TransitionKind.FALSE_ALARM}


def summarise_closed_warning(sender, *, warning, transition, **kwargs) -> None:
    if transition.kind in CLOSING_KINDS:
        warning_id = warning.pk
        # After commit: the work orders close in the same transaction, after
        # the warning, and the summary tells how they ended.
        transaction.on_commit(lambda: event_summary_write(warning_id=warning_id))
