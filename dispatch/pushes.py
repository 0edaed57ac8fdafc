"""What dispatch sends to the screens: each work order to its department and to the duty officers."""

from citysafety import realtime
from dispatch import selectors


def push_work_orders(*, work_order_ids: list[int]) -> None:
    """Send each order as it now stands to its department and to duty officers."""
    realtime.send_many(
        ([realtime.DUTY_GROUP, realtime.department_group(payload["department"]["id"])], "work_order.changed", payload)
        for payload in selectors.work_order_payloads(work_order_ids)
    )
