"""Reports listen to the warning app: a closed warning gets its event summary."""

from django.db import transaction

from warning.models import TransitionKind


def summarise_closed_warning(sender, *, warning, transition, **kwargs) -> None:
    if transition.kind == TransitionKind.CLOSED:
        from reports.summaries import event_summary_write

        warning_id = warning.pk
        # After commit: the work orders close in the same transaction, after
        # the warning, and the summary tells how they ended.
        transaction.on_commit(lambda: event_summary_write(warning_id=warning_id))
