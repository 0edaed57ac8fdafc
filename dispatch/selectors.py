"""Reads shared by dispatch's views, consumers and tasks."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Prefetch, Q, QuerySet

from dispatch import payloads
from dispatch.models import RoutingPolicy, WorkOrder, WorkOrderEvent
from monitoring.models import Sensor
from organisation.models import Department
from organisation.roles import is_duty_officer
from organisation.selectors import department_id_of


def routed_departments(policies: list[RoutingPolicy], sensor: Sensor) -> dict[int, Department]:
    """The departments the policies name for one sensor, in a stable order, by id.

    The sensor's owner and its district's government, when a policy names
    them, are read in one query for all the policies.
    """
    owner_wanted = sensor.owner_department_id and any(p.include_sensor_owner for p in policies)
    government_wanted = sensor.district_id and any(p.include_district_government for p in policies)
    owner = government = None
    if owner_wanted or government_wanted:
        which = Q(pk__in=[])
        if owner_wanted:
            which |= Q(pk=sensor.owner_department_id)
        if government_wanted:
            which |= Q(district_id=sensor.district_id)
        for department in Department.objects.filter(which):  # in the model's order, as government_of_district
            if department.pk == sensor.owner_department_id:
                owner = department
            if government is None and government_wanted and department.district_id == sensor.district_id:
                government = department
    due: dict[int, Department] = {}
    for policy in policies:
        departments = list(policy.departments.all())
        if policy.include_sensor_owner and owner is not None:
            departments.append(owner)
        if policy.include_district_government and government is not None:
            departments.append(government)
        for department in departments:
            due.setdefault(department.pk, department)
    return due


def work_orders_with_details() -> QuerySet[WorkOrder]:
    return (
        WorkOrder.objects.select_related(
            "department",
            "warning__sensor__sensor_type__domain",
            "warning__sensor__district",
            "warning__rule",
            "warning__closed_by",
            "assignee",
            "transferred_from__department",
            "transferred_to__department",
        )
        .prefetch_related(
            Prefetch("events", queryset=WorkOrderEvent.objects.select_related("actor__membership__department")),
            "actions",
            "photos",
        )
        .annotate(
            # The departments already on each order's warning, which its transfer cannot go to:
            # read with the rows (no query more for the page).
            departments_on_warning=ArraySubquery(
                WorkOrder.objects.filter(warning_id=OuterRef("warning_id"))
                .order_by("department_id")
                .values("department_id")
            )
        )
    )


def work_orders_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[WorkOrder]:
    """Duty officers see every order; department staff only their department's."""
    orders = work_orders_with_details()
    if is_duty_officer(user):
        return orders
    department_id = department_id_of(user)
    return orders.filter(department_id=department_id) if department_id else orders.none()


def work_order_visible(user: AbstractBaseUser | AnonymousUser, work_order_id: int) -> WorkOrder | None:
    """One order, if the user may see it (its department's staff, or a duty officer)."""
    return work_orders_visible_to(user).filter(pk=work_order_id).first()


def work_order_sensor_location(work_order_id: int):
    """Where the order's sensor stands (a photo's distance is measured from it)."""
    return WorkOrder.objects.filter(pk=work_order_id).values_list("warning__sensor__location", flat=True).first()


def department_people(department_id: int) -> list[dict]:
    """The active people of a department, to assign an order to."""
    users = (
        get_user_model()
        .objects.filter(is_active=True, membership__department_id=department_id)
        .order_by("username")
        .only("id", "username", "first_name", "last_name")
    )
    return [{"id": user.pk, "name": user.get_full_name() or user.get_username()} for user in users]


def work_order_payloads(work_order_ids: list[int]) -> list[dict]:
    """The orders as the API and the pushes give them (``dispatch.payloads``), in id order."""
    orders = work_orders_with_details().filter(pk__in=work_order_ids).order_by("pk")
    return payloads.work_order_rows(orders)
