"""The one place that sends to Channels groups.

Groups: ``duty`` (duty officers and administrators: the whole city) and
``department.<id>`` (one department's staff) and ``user.<id>`` (one person's
notifications). Message types name the
consumer handler (``warning.changed`` → ``warning_changed``). Sending is
best effort: the database is the source of truth and a page resyncs from
the API after a reconnect, so a Redis outage must not fail a write.
"""

import logging
from collections.abc import Iterable
from typing import Literal

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

DUTY_GROUP = "duty"

EventType = Literal[
    "warning.changed",
    "work_order.changed",
    "verification.changed",
    "notification.created",
    "gateway_outage.changed",
]


def department_group(department_id: int) -> str:
    return f"department.{department_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def send(groups: list[str], event_type: EventType, payload: dict) -> None:
    send_many([(groups, event_type, payload)])


def send_many(messages: Iterable[tuple[list[str], EventType, dict]]) -> None:
    """Send each (groups, type, payload) in one trip to the event loop.

    ``async_to_sync`` starts a loop for each call, and the layer a Redis
    connection for each loop: about 5 ms a message one by one, against a
    fraction of a millisecond for the pushes of a whole chunk sent together.
    """
    layer = get_channel_layer()
    messages = list(messages)
    if layer is None or not messages:
        return
    try:
        async_to_sync(_send_all)(layer, messages)
    except Exception:  # the push is best effort; see the module docstring
        log.warning("Could not push %d messages", len(messages), exc_info=True)


async def _send_all(layer, messages: list[tuple[list[str], EventType, dict]]) -> None:
    for groups, event_type, payload in messages:
        message = {"type": event_type, "payload": payload}
        for group in groups:
            try:
                await layer.group_send(group, message)
            except Exception:  # one group's failure does not keep the others waiting
                log.warning("Could not push %s to group %s", event_type, group, exc_info=True)
