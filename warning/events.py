"""What the warning app announces to downstream apps.

``warning_changed`` is sent by ``warning.transitions.record``, inside the
transaction that changed the warning, after its row and its transition are
written, so a receiver's writes commit (or roll back) with them: dispatch
routes the warning there, and a warning is never stored without its work
orders. A receiver defers side effects with ``transaction.on_commit``.

A receiver that raises undoes the change it was told of, with everything
else in that transaction:
- in evaluation, the chunk's transaction: the chunk is evaluated again
  sensor by sensor, the failing sensor's change is undone and its readings
  wait for the sweep, logged; the chunk's other sensors commit
  (``warning.services.chunk_evaluate``);
- in a person's act (closing, a verdict), the act fails as a whole;
- in the no-data sweep and a silence's lifting, their transaction.
"""

from django.dispatch import Signal

# Arguments: ``warning`` (the Warning, locked), ``transition`` (the new
# WarningTransition). Sent for every transition kind:
# - OPENED, ESCALATED, RECOVERED, REACTIVATED: evaluation, the no-data sweep,
#   a silence lifted;
# - CLOSED: a person closing the warning, or evaluation closing a recovered
#   warning that a new one supersedes;
# - CONFIRMED and FALSE_ALARM: a duty officer's verdict (warning.verification).
# Never for history: an episode of the past recorded as a closed warning, or
# a late reading raising a closed warning's level, is not announced
# (``transitions.record_historical``, ``transitions.escalate_closed``).
warning_changed = Signal()
