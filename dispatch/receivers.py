"""Dispatch listens to the warning app: opened and worse warnings are routed."""

from warning.models import TransitionKind

ROUTED_KINDS = {TransitionKind.OPENED, TransitionKind.ESCALATED, TransitionKind.REACTIVATED}


def route_warning(sender, *, warning, transition, **kwargs) -> None:
    if transition.kind in ROUTED_KINDS:
        from dispatch.services import work_orders_route

        work_orders_route(warning=warning)
