"""Dispatch listens to the warning app: opened, worse and confirmed warnings are routed;
false alarms stand their orders down; an incident follows its members."""

from dispatch import services
from warning.models import TransitionKind

ROUTED_KINDS = {TransitionKind.OPENED, TransitionKind.ESCALATED, TransitionKind.REACTIVATED}
# The ways a warning leaves its incident: the incident may pass to another member.
LEAVING_KINDS = {TransitionKind.CLOSED, TransitionKind.FALSE_ALARM}


def route_warning(sender, *, warning, transition, **kwargs) -> None:
    if transition.kind == TransitionKind.REACTIVATED and warning.is_flapping and not _worse(transition):
        # A flapping warning comes back again and again at the level its
        # departments already handle: reopening their reported orders on
        # every flip would have them report the same event over and over.
        # A worse level still reaches them.
        return
    if transition.kind == TransitionKind.FALSE_ALARM:
        services.work_orders_stand_down(warning=warning, user=transition.actor)
    if warning.incident_id is not None:
        # One event, one set of work orders: the incident's primary's, at the
        # worst level of its members, passed on when the primary leaves.
        if transition.kind in LEAVING_KINDS:
            services.work_orders_route_incident_successor(warning=warning, reason=transition.kind)
        elif transition.kind in ROUTED_KINDS or transition.kind == TransitionKind.CONFIRMED:
            services.work_orders_route_incident_member(
                warning=warning, confirmed=transition.kind == TransitionKind.CONFIRMED
            )
        return
    if transition.kind in ROUTED_KINDS:
        services.work_orders_route_when_due(warning=warning)
    elif transition.kind == TransitionKind.CONFIRMED:
        # A verified warning goes out at the level it has now.
        services.work_orders_route(warning=warning)


def _worse(transition) -> bool:
    return transition.from_level is not None and transition.to_level < transition.from_level
