"""Dispatch listens to the warning app: opened, worse and confirmed warnings are routed;
false alarms stand their orders down."""

from warning.models import TransitionKind

ROUTED_KINDS = {TransitionKind.OPENED, TransitionKind.ESCALATED, TransitionKind.REACTIVATED}


def route_warning(sender, *, warning, transition, **kwargs) -> None:
    from dispatch import services

    routed = transition.kind in ROUTED_KINDS or transition.kind == TransitionKind.CONFIRMED
    if routed and warning.incident_id is not None and warning.incident.primary_id != warning.pk:
        # A later member of an incident: the incident's first warning was
        # routed, and its work orders cover the whole event.
        return
    if transition.kind == TransitionKind.REACTIVATED and warning.is_flapping and not _worse(transition):
        # A flapping warning comes back again and again at the level its
        # departments already handle: reopening their reported orders on
        # every flip would have them report the same event over and over.
        # A worse level still reaches them.
        return
    if transition.kind in ROUTED_KINDS:
        services.work_orders_route_when_due(warning=warning)
    elif transition.kind == TransitionKind.CONFIRMED:
        # A verified warning goes out at the level it has now.
        services.work_orders_route(warning=warning)
    elif transition.kind == TransitionKind.FALSE_ALARM:
        services.work_orders_stand_down(warning=warning, user=transition.actor)


def _worse(transition) -> bool:
    return transition.from_level is not None and transition.to_level < transition.from_level
