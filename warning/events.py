"""What the warning app announces to downstream apps.

Sent inside the transaction that changed the warning, after its row and
its transition are written, so a receiver's writes commit (or roll back)
with them. A receiver defers side effects with ``transaction.on_commit``.
"""

from django.dispatch import Signal

# Arguments: ``warning`` (the Warning, locked), ``transition`` (the new
# WarningTransition). Sent on opened, escalated, reactivated, recovered
# and closed.
warning_changed = Signal()
