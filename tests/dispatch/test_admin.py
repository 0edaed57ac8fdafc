"""Routing is configured in admin; work orders are only looked at there."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from dispatch.models import RoutingPolicy, WorkOrder, WorkOrderEvent, WorkOrderEventKind, WorkOrderStatus
from organisation.models import DepartmentKind
from tests.factories import (
    DepartmentFactory,
    RiskDomainFactory,
    RoutingPolicyFactory,
    SensorFactory,
    ThresholdRuleFactory,
    UserFactory,
)
from warning.models import Warning

POLICIES = "/admin/dispatch/routingpolicy/"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _work_order(department, *, code: str = "S-WO") -> WorkOrder:
    sensor = SensorFactory(code=code)
    now = timezone.now()
    warning = Warning.objects.create(
        sensor=sensor,
        rule=ThresholdRuleFactory(sensor_type=sensor.sensor_type),
        level=2,
        opened_at=now,
        first_value=25.0,
        last_value=25.0,
        peak_value=25.0,
        last_observed_at=now,
    )
    order = WorkOrder.objects.create(
        warning=warning, department=department, level=2, ack_deadline=now + timedelta(minutes=15)
    )
    WorkOrderEvent.objects.create(work_order=order, kind=WorkOrderEventKind.CREATED, note="Routed by policy")
    WorkOrderEvent.objects.create(
        work_order=order,
        kind=WorkOrderEventKind.ACKNOWLEDGED,
        actor=UserFactory(username="alice"),
        note="Crew on the way",
        created_at=now + timedelta(minutes=3),
    )
    return order


def _policy_form(domain, **overrides: object) -> dict[str, object]:
    return {
        "domain": domain.pk,
        "level": "2",
        "ack_deadline_minutes": "15",
        "verification": "at_once",
        "arrive_deadline_minutes": "60",
        "report_deadline_minutes": "240",
        "departments": [],
        **overrides,
    }


# --- Lists and add pages ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "shows"),
    [
        ("/admin/dispatch/routingpolicy/", "Gas company"),
        ("/admin/dispatch/workorder/", "Gas company"),
    ],
)
def test_each_changelist_lists_its_rows(admin_client, url, shows):
    gas_company = DepartmentFactory(code="gas-co", name="Gas company")
    UserFactory(username="alice", department=gas_company)
    RoutingPolicyFactory(departments=[gas_company])
    _work_order(gas_company)

    response = admin_client.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
    assert shows in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/admin/dispatch/routingpolicy/add/", 'name="ack_deadline_minutes"'),
    ],
)
def test_each_configurable_model_has_an_add_page(admin_client, url, field):
    response = admin_client.get(url)

    assert response.status_code == 200
    assert field in response.content.decode()


# --- Routing policies --------------------------------------------------------------------


@pytest.mark.django_db
def test_routing_policy_is_saved_with_departments_and_deadline(admin_client):
    domain = RiskDomainFactory()
    industry = DepartmentFactory(code="energy-bureau", name="Energy bureau", kind=DepartmentKind.INDUSTRY)

    page = admin_client.get(f"{POLICIES}add/").content.decode()
    assert 'class="selectfilter"' in page  # filter_horizontal on departments

    response = admin_client.post(
        f"{POLICIES}add/",
        _policy_form(domain, departments=[industry.pk], include_district_government="on", ack_deadline_minutes="30"),
    )

    assert response.status_code == 302
    policy = RoutingPolicy.objects.get()
    assert list(policy.departments.all()) == [industry]
    assert (policy.level, policy.include_district_government, policy.ack_deadline_minutes) == (2, True, 30)


@pytest.mark.django_db
def test_a_second_policy_for_the_same_domain_and_level_is_refused_on_the_level(admin_client):
    existing = RoutingPolicyFactory(level=2, ack_deadline_minutes=15)

    response = admin_client.post(f"{POLICIES}add/", _policy_form(existing.domain, ack_deadline_minutes="5"))

    assert response.context["adminform"].form.errors == {
        "level": [
            "Gas already has a routing policy for Level II (orange): edit that policy, "
            "or choose another level or risk domain."
        ]
    }
    assert "already exists" not in response.content.decode()
    assert RoutingPolicy.objects.get().ack_deadline_minutes == 15


@pytest.mark.django_db
def test_editing_a_policy_does_not_clash_with_itself(admin_client):
    policy = RoutingPolicyFactory(level=2)

    response = admin_client.post(
        f"{POLICIES}{policy.pk}/change/", _policy_form(policy.domain, ack_deadline_minutes="5")
    )

    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.ack_deadline_minutes == 5


@pytest.mark.django_db
def test_policy_list_filters_by_level_and_names_departments_without_a_query_each(
    admin_client, django_assert_max_num_queries
):
    for i, level in enumerate((3, 2, 1)):
        RoutingPolicyFactory(
            domain=RiskDomainFactory(code=f"domain-{i}", name=f"Domain {i}"),
            level=level,
            departments=[DepartmentFactory(code=f"dept-{i}-{j}", name=f"Department {i}-{j}") for j in range(3)],
        )

    with django_assert_max_num_queries(10):
        response = admin_client.get(POLICIES)
    level1 = admin_client.get(POLICIES, {"level__exact": 1})

    assert "Department 2-0, Department 2-1, Department 2-2" in response.content.decode()
    assert [p.level for p in level1.context["cl"].result_list] == [1]


# --- Work orders are read-only -----------------------------------------------------------


@pytest.mark.django_db
def test_work_orders_cannot_be_added_or_edited_in_admin(admin_client):
    order = _work_order(DepartmentFactory(name="Gas company"))
    url = f"/admin/dispatch/workorder/{order.pk}/change/"

    assert admin_client.get("/admin/dispatch/workorder/add/").status_code == 403
    admin_client.post(url, {"status": WorkOrderStatus.CLOSED})
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.PENDING


@pytest.mark.django_db
def test_work_order_page_shows_its_timeline(admin_client):
    order = _work_order(DepartmentFactory(name="Gas company"))

    response = admin_client.get(f"/admin/dispatch/workorder/{order.pk}/change/")

    html = response.content.decode()
    assert response.context["title"] == "View work order"
    inline, _checklist = response.context["inline_admin_formsets"]
    assert [e.kind for e in inline.formset.queryset] == [WorkOrderEventKind.CREATED, WorkOrderEventKind.ACKNOWLEDGED]
    assert "Dispatched" in html
    assert "Routed by policy" in html
    assert "Crew on the way" in html
    assert "alice" in html
    assert 'name="events-0-note"' not in html


@pytest.mark.django_db
def test_work_order_list_filters_by_status_and_finds_a_sensor(admin_client):
    gas = DepartmentFactory(code="gas-co", name="Gas company")
    order = _work_order(gas, code="S-FIND")
    _work_order(gas, code="S-OTHER")

    by_code = admin_client.get("/admin/dispatch/workorder/", {"q": "S-FIND"})
    pending = admin_client.get("/admin/dispatch/workorder/", {"status__exact": WorkOrderStatus.PENDING})

    assert list(by_code.context["cl"].result_list) == [order]
    assert pending.context["cl"].result_count == 2


@pytest.mark.django_db
def test_only_a_superuser_may_delete_a_work_order(client):
    order = _work_order(DepartmentFactory())
    staff = UserFactory(username="configurator", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="dispatch"))
    client.force_login(staff)

    assert client.get(f"/admin/dispatch/workorder/{order.pk}/delete/").status_code == 403
    assert WorkOrder.objects.filter(pk=order.pk).exists()


@pytest.mark.django_db
def test_warning_page_lists_the_work_orders_it_caused(admin_client):
    order = _work_order(DepartmentFactory(name="Gas company"))

    html = admin_client.get(f"/admin/warning/warning/{order.warning_id}/change/").content.decode()

    assert "Gas company" in html
    assert f"/admin/dispatch/workorder/{order.pk}/change/" in html
    assert "Awaiting acknowledgement" in html


@pytest.mark.django_db
def test_a_response_plan_is_edited_in_admin_with_its_actions(admin_client):
    from dispatch.models import ResponsePlan
    from organisation.models import DepartmentKind
    from tests.factories import RiskDomainFactory

    gas = RiskDomainFactory(code="gas", name="Gas")
    form = {
        "domain": gas.pk,
        "level": 2,
        "title": "Gas leak, Level II",
        "actions-TOTAL_FORMS": "2",
        "actions-INITIAL_FORMS": "0",
        "actions-MIN_NUM_FORMS": "0",
        "actions-MAX_NUM_FORMS": "1000",
        "actions-0-department_kind": DepartmentKind.ENTERPRISE,
        "actions-0-position": "0",
        "actions-0-text": "Close the valves and evacuate within 50 m",
        "actions-1-department_kind": DepartmentKind.DISTRICT_GOVERNMENT,
        "actions-1-position": "1",
        "actions-1-text": "Organise the evacuation",
    }

    created = admin_client.post("/admin/dispatch/responseplan/add/", form)

    assert created.status_code == 302, created.content.decode()[:2000]
    plan = ResponsePlan.objects.get()
    assert [(a.department_kind, a.text) for a in plan.actions.all()] == [
        ("district_government", "Organise the evacuation"),
        ("enterprise", "Close the valves and evacuate within 50 m"),
    ]
    clash = admin_client.post("/admin/dispatch/responseplan/add/", {**form, "actions-TOTAL_FORMS": "0"})
    assert clash.status_code == 200
    assert "already has a response plan for Level II" in clash.content.decode()
    listing = admin_client.get("/admin/dispatch/responseplan/")
    assert "Gas leak, Level II" in listing.content.decode()
