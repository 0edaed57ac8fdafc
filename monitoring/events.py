"""What the monitoring app announces to downstream apps.

Signals are sent inside the writing transaction; a receiver that starts
work elsewhere (a task, a push) defers it with ``transaction.on_commit``.
"""

from django.dispatch import Signal

# Sent once per stored batch. Arguments: ``sensor_ids`` (set[int]) of the
# sensors that received at least one new reading.
readings_stored = Signal()
