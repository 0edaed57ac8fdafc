"""Districts, departments and their members are configured in admin."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model

from organisation.admin import UserAdmin
from organisation.models import DepartmentKind, Membership
from tests.factories import DepartmentFactory, DistrictFactory, UserFactory


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "shows"),
    [
        ("/admin/organisation/department/", "Gas company"),
        ("/admin/organisation/district/", "Shushan"),
        ("/admin/auth/user/", "Gas company"),
    ],
)
def test_each_changelist_lists_its_rows(admin_client, url, shows):
    gas_company = DepartmentFactory(code="gas-co", name="Gas company")
    DistrictFactory(code="340104", name="Shushan")
    UserFactory(username="alice", department=gas_company)

    response = admin_client.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
    assert shows in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/admin/organisation/department/add/", 'name="kind"'),
        ("/admin/organisation/district/add/", 'name="code"'),
        ("/admin/auth/user/add/", 'name="membership-0-department"'),
    ],
)
def test_each_configurable_model_has_an_add_page(admin_client, url, field):
    response = admin_client.get(url)

    assert response.status_code == 200
    assert field in response.content.decode()


# --- Departments and members --------------------------------------------------------


@pytest.mark.django_db
def test_department_page_adds_members_inline(admin_client):
    district = DistrictFactory(name="Shushan")
    alice = UserFactory(username="alice")

    response = admin_client.post(
        "/admin/organisation/department/add/",
        {
            "code": "shushan-gov",
            "name": "Shushan district government",
            "kind": DepartmentKind.DISTRICT_GOVERNMENT,
            "district": district.pk,
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": alice.pk,
        },
    )

    assert response.status_code == 302
    membership = Membership.objects.get(user=alice)
    assert membership.department.district == district
    listing = admin_client.get("/admin/organisation/department/", {"kind__exact": DepartmentKind.DISTRICT_GOVERNMENT})
    (row,) = listing.context["cl"].result_list
    assert row.member_count == 1
    assert "Shushan" in listing.content.decode()


@pytest.mark.django_db
def test_a_user_of_another_department_is_refused_with_what_to_do(admin_client):
    water = DepartmentFactory(code="water-co", name="Water company")
    gas = DepartmentFactory(code="gas-co", name="Gas company")
    bob = UserFactory(username="bob", department=water)

    response = admin_client.post(
        f"/admin/organisation/department/{gas.pk}/change/",
        {
            "code": gas.code,
            "name": gas.name,
            "kind": gas.kind,
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": bob.pk,
        },
    )

    (inline,) = response.context["inline_admin_formsets"]
    assert inline.formset.errors == [
        {
            "user": [
                "bob already works for Water company; a user belongs to one department. "
                "Remove that membership first, or change it on the user's page."
            ]
        }
    ]
    assert Membership.objects.get(user=bob).department == water


@pytest.mark.django_db
def test_user_page_shows_and_changes_the_department(admin_client):
    water = DepartmentFactory(code="water-co", name="Water company")
    gas = DepartmentFactory(code="gas-co", name="Gas company")
    bob = UserFactory(username="bob", department=water)
    url = f"/admin/auth/user/{bob.pk}/change/"

    page = admin_client.get(url)
    membership = Membership.objects.get(user=bob)
    assert f'<option value="{water.pk}" selected>Water company</option>' in page.content.decode()

    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in {"password", "groups"}}
    data.update(
        {
            "date_joined_0": bob.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": bob.date_joined.strftime("%H:%M:%S"),
            "user_permissions": [],
            "membership-TOTAL_FORMS": "1",
            "membership-INITIAL_FORMS": "1",
            "membership-0-id": membership.pk,
            "membership-0-user": bob.pk,
            "membership-0-department": gas.pk,
        }
    )
    data = {k: v for k, v in data.items() if k not in {"date_joined", "last_login", "user_permissions"}}
    data["is_active"] = "on"
    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Membership.objects.get(user=bob).department == gas


@pytest.mark.django_db
def test_user_list_filters_by_department(admin_client):
    water = DepartmentFactory(code="water-co", name="Water company")
    UserFactory(username="bob", department=water)
    UserFactory(username="carol", department=DepartmentFactory(code="gas-co", name="Gas company"))

    response = admin_client.get("/admin/auth/user/", {"membership__department__id__exact": water.pk})

    assert [u.username for u in response.context["cl"].result_list] == ["bob"]


def test_user_model_admin_is_the_extended_one():
    assert isinstance(admin.site._registry[get_user_model()], UserAdmin)
