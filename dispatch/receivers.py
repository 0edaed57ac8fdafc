"""Dispatch listens to the warning app: opened and worse warnings are routed."""

from warning.models import TransitionKind

ROUTED_KINDS = {TransitionKind.OPENED, TransitionKind.ESCALATED, TransitionKind.REACTIVATED}


def route_warning(sender, *, warning, transition, **kwargs) -> None:
    if transition.kind in ROUTED_KINDS:
        from dispatch.services import work_orders_route

        if warning.incident_id is not None and warning.incident.primary_id != warning.pk:
            # A later member of an incident: the incident's first warning was
            # routed, and its work orders cover the whole event.
            return
        work_orders_route(warning=warning)
