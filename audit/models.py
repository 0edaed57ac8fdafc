"""The audit trail: one append-only event table per tracked kind, written by database triggers.

The triggers (django-pghistory) fire on every INSERT, UPDATE and DELETE of
the tracked tables, from the admin, the API, a bulk ``queryset.update()`` or
raw SQL alike. An update writes two events in the same statement: ``before_update``
(the old row) and ``update`` (the new one), so "before and after" is exact;
an insert keeps the new row, a delete the old one. Each event says who made
it (``pgh_context``: the signed-in person from ``audit.middleware``, or the
system and its task or command from ``audit.system``).

The events live here, above every app they track, so no tracked app imports
this one or carries a migration for it. ``pgh_obj`` is a foreign key without a
database constraint: deleting the object keeps its history.
"""

import pghistory
from django.contrib.auth import get_user_model

from dispatch.models import EscalationStep, ResponsePlan, ResponsePlanAction, RoutingPolicy
from monitoring.models import Gateway, Sensor, SensorType
from organisation.models import Department, DutyShift, Membership
from warning.models import Silence, ThresholdRule

User = get_user_model()


def _events(model, *, exclude: list[str] | None = None, name: str):
    """An event model for ``model``: append-only (update and delete refused by a trigger), context kept in each row."""
    return pghistory.create_event_model(
        model,
        # New trackers for each model: a tracker keeps the model it was set up for.
        pghistory.InsertEvent(),
        # The row before each change as well as after: the first change after
        # the trail began (or after a row older than the trail) still shows
        # what it replaced, and "what stood at a moment" needs no earlier event.
        pghistory.UpdateEvent("before_update", row=pghistory.Old),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        exclude=exclude,
        model_name=name,
        app_label="audit",
        # Who and where in the event row itself: no shared context row that a
        # later statement of the same request would update.
        context_field=pghistory.ContextJSONField(),
        append_only=True,
        abstract=False,
    )


ThresholdRuleEvent = _events(ThresholdRule, name="ThresholdRuleEvent")
SilenceEvent = _events(Silence, name="SilenceEvent")
RoutingPolicyEvent = _events(RoutingPolicy, name="RoutingPolicyEvent")
ResponsePlanEvent = _events(ResponsePlan, name="ResponsePlanEvent")
ResponsePlanActionEvent = _events(ResponsePlanAction, name="ResponsePlanActionEvent")
EscalationStepEvent = _events(EscalationStep, name="EscalationStepEvent")
# The last-seen time changes with every batch a gateway sends: not a change anyone made.
GatewayEvent = _events(Gateway, exclude=["token_hash", "last_seen_at"], name="GatewayEvent")
# Every field, status and warning level included: leaving a column out makes
# pghistory list the others in the trigger's condition, and its comparison of
# the geometry column cannot be restored by pg_restore (operator not unique).
# So a liveness flip or a warning also writes its two event rows (to measure).
SensorEvent = _events(Sensor, name="SensorEvent")
SensorTypeEvent = _events(SensorType, name="SensorTypeEvent")
DepartmentEvent = _events(Department, name="DepartmentEvent")
MembershipEvent = _events(Membership, name="MembershipEvent")
DutyShiftEvent = _events(DutyShift, name="DutyShiftEvent")
# A person's password hash stays out of the trail; signing in (last_login) is not a change to the person.
UserEvent = _events(User, exclude=["password", "last_login"], name="UserEvent")

TRACKED = {
    event_model.pgh_tracked_model: event_model
    for event_model in (
        ThresholdRuleEvent,
        SilenceEvent,
        RoutingPolicyEvent,
        ResponsePlanEvent,
        ResponsePlanActionEvent,
        EscalationStepEvent,
        GatewayEvent,
        SensorEvent,
        SensorTypeEvent,
        DepartmentEvent,
        MembershipEvent,
        DutyShiftEvent,
        UserEvent,
    )
}
