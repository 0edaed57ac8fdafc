"""The HTML pages: who lands where, what they may see, what they load, in which language."""

import json
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import readings_record_stored
from organisation.roles import DEPARTMENT_STAFF
from tests.factories import (
    DistrictFactory,
    RiskDomainFactory,
    SensorFactory,
    UserFactory,
)
from warning import services as warning_services

pytestmark = pytest.mark.django_db

PRODUCT_ZH = "城市安全风险综合监测预警平台"
PRODUCT_EN = "City Safety Risk Monitoring and Early Warning Platform"


class AssetParser(HTMLParser):
    """Collects what a page makes the browser fetch: scripts, stylesheets, images."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.other: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.scripts.append(attributes["src"])
        elif tag == "link" and attributes.get("href"):
            (self.stylesheets if attributes.get("rel") == "stylesheet" else self.other).append(attributes["href"])
        elif tag in {"img", "iframe", "source"} and attributes.get("src"):
            self.other.append(attributes["src"])


def assets(response) -> AssetParser:
    parser = AssetParser()
    parser.feed(response.content.decode())
    return parser


def page_config(response, element_id: str) -> dict:
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert match, f"no {element_id} on the page"
    return json.loads(match.group(1))


@pytest.fixture
def orders_for_two_departments(department_a, department_b, gas_city):
    """A Level III warning on a sensor of each department, routed to its owner."""
    methane, district = gas_city.methane, gas_city.district
    sensor_a = SensorFactory(
        code="GAS-A-17", name="Valve well A-17", sensor_type=methane, district=district, owner_department=department_a
    )
    sensor_b = SensorFactory(
        code="GAS-B-09", name="Pump house B-09", sensor_type=methane, district=district, owner_department=department_b
    )
    now = timezone.now()
    for sensor in (sensor_a, sensor_b):
        readings_record_stored(readings=[Reading.objects.create(sensor=sensor, observed_at=now, value=15.0)])
        warning_services.sensor_evaluate(sensor_id=sensor.pk)
    return sensor_a, sensor_b


# --- Login and landing ------------------------------------------------------------


def test_the_login_page_renders_a_form_in_chinese(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert PRODUCT_ZH in body
    assert 'name="username"' in body
    assert 'name="password"' in body
    assert "csrfmiddlewaretoken" in body
    assert "登录" in body


def test_a_wrong_password_is_answered_on_the_login_page(client, duty_officer):
    response = client.post(reverse("login"), {"username": "duty", "password": "wrong"})

    assert response.status_code == 200
    assert 'class="alert alert-error"' in response.content.decode()


def test_logging_in_through_the_form_lands_a_duty_officer_on_the_dashboard(client, duty_officer):
    response = client.post(reverse("login"), {"username": "duty", "password": "pass-word-123"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert response.status_code == 200


@pytest.mark.parametrize("url", ["/", "/dashboard/", "/work-orders/"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_a_duty_officer_lands_on_the_dashboard(client, duty_officer):
    client.force_login(duty_officer)

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(response["Location"]).status_code == 200


def test_an_administrator_lands_on_the_dashboard_and_sees_the_admin_link(client, admin_user):
    client.force_login(admin_user)

    assert client.get("/")["Location"] == reverse("dashboard")
    assert f'href="{reverse("admin:index")}"' in client.get(reverse("dashboard")).content.decode()


def test_department_staff_land_on_their_work_orders(client, staff_a):
    client.force_login(staff_a)

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("work-orders")


def test_department_staff_may_not_open_the_dashboard(client, staff_a):
    client.force_login(staff_a)

    response = client.get(reverse("dashboard"))

    assert response.status_code == 403
    body = response.content.decode()
    # The refusal points somewhere useful, and the navigation hides the map.
    assert f'href="{reverse("work-orders")}"' in body
    assert f'href="{reverse("dashboard")}"' not in body
    assert f'href="{reverse("admin:index")}"' not in body


def test_logging_out_is_a_post_form_in_the_header(client, duty_officer):
    client.force_login(duty_officer)

    body = client.get(reverse("dashboard")).content.decode()

    assert re.search(r'<form method="post" action="/logout/"', body)


# --- The dashboard page -----------------------------------------------------------


def test_the_dashboard_loads_leaflet_from_our_static_files_and_nothing_from_elsewhere(client, duty_officer):
    client.force_login(duty_officer)

    response = client.get(reverse("dashboard"))

    page = assets(response)
    assert "/static/leaflet/leaflet.js" in page.scripts
    assert "/static/leaflet/leaflet.css" in page.stylesheets
    for url in [*page.scripts, *page.stylesheets, *page.other]:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
    assert not re.search(r'(src|href)="(https?:)?//', response.content.decode())


def test_the_dashboard_hands_its_script_the_api_and_map_settings(client, duty_officer, settings):
    settings.MAP_TILE_URL = ""
    client.force_login(duty_officer)

    config = page_config(client.get(reverse("dashboard")), "dashboard-config")

    assert config["urls"]["warnings"] == "/api/v1/warnings/"
    assert config["urls"]["mapSensors"] == "/api/v1/map/sensors/"
    assert config["urls"]["close"] == "/api/v1/warnings/0/close/"
    assert config["map"]["tileUrl"] == ""


def test_the_dashboard_hands_its_script_the_districts_extent_and_every_domain(client, duty_officer):
    DistrictFactory()  # 117.0-117.4 E, 31.7-32.0 N
    RiskDomainFactory(code="water", name="供水")
    client.force_login(duty_officer)

    config = page_config(client.get(reverse("dashboard")), "dashboard-config")

    # The map asks for its sensors in this view before the district outlines arrive.
    assert config["map"]["bounds"] == [[31.7, 117.0], [32.0, 117.4]]
    assert ["water", "供水"] in config["domains"]


def test_the_dashboard_without_districts_keeps_the_configured_centre(client, duty_officer):
    client.force_login(duty_officer)

    config = page_config(client.get(reverse("dashboard")), "dashboard-config")

    assert config["map"]["bounds"] is None


def test_the_dashboard_shows_the_live_indicator_counters_and_a_loading_list(client, duty_officer):
    client.force_login(duty_officer)

    body = client.get(reverse("dashboard")).content.decode()

    assert 'id="live-status"' in body
    for level in (1, 2, 3):
        assert f'data-counter-level="{level}"' in body
    assert 'id="warning-list"' in body
    assert 'aria-busy="true"' in body


# --- The work orders page ---------------------------------------------------------


def test_department_staff_see_only_their_departments_orders(client, staff_a, staff_b, orders_for_two_departments):
    client.force_login(staff_a)

    response = client.get(reverse("work-orders"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Valve well A-17" in body
    assert "Pump house B-09" not in body
    assert "GAS-B-09" not in body
    config = page_config(response, "workorders-config")
    assert {order["department"]["id"] for order in config["orders"]} == {staff_a.membership.department_id}
    assert config["duty"] is False
    assert config["departments"] == []


def test_the_other_department_sees_the_other_order(client, staff_b, orders_for_two_departments):
    client.force_login(staff_b)

    body = client.get(reverse("work-orders")).content.decode()

    assert "Pump house B-09" in body
    assert "Valve well A-17" not in body


def test_duty_officers_see_every_departments_orders_and_may_filter_by_department(
    client, duty_officer, orders_for_two_departments, department_a, department_b
):
    client.force_login(duty_officer)

    response = client.get(reverse("work-orders"))

    config = page_config(response, "workorders-config")
    assert {order["warning"]["sensor"]["code"] for order in config["orders"]} == {"GAS-A-17", "GAS-B-09"}
    assert {d["id"] for d in config["departments"]} >= {department_a.pk, department_b.pk}
    assert 'id="filter-department"' in response.content.decode()


def test_the_work_orders_page_reads_the_database_a_bounded_number_of_times(
    client, staff_a, orders_for_two_departments, django_assert_max_num_queries
):
    client.force_login(staff_a)
    # However many orders: the session, the person, their roles, membership
    # and department (5), the orders' keys and rows with their events,
    # checklists and photos (5), the people an order can be assigned to, the
    # bell's unread count and the department again for the header (3).
    with django_assert_max_num_queries(13):
        client.get(reverse("work-orders"))


def test_a_user_without_a_department_is_told_why_the_queue_is_empty(client, db):
    lost = UserFactory(username="lost", roles=[DEPARTMENT_STAFF])
    client.force_login(lost)

    response = client.get(reverse("work-orders"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "workorders-config" not in body
    assert "您的账号尚未分配到部门" in body


# --- Language ---------------------------------------------------------------------


def test_pages_are_in_simplified_chinese_by_default(client, duty_officer):
    client.force_login(duty_officer)

    body = client.get(reverse("dashboard")).content.decode()

    assert '<html lang="zh-hans">' in body
    assert PRODUCT_ZH in body
    assert "一张图" in body
    assert "工单" in body
    assert "退出登录" in body


def test_switching_to_english_changes_the_visible_text(client, duty_officer):
    client.force_login(duty_officer)

    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("dashboard")})
    assert response.status_code == 302

    body = client.get(reverse("dashboard")).content.decode()
    assert '<html lang="en">' in body
    assert PRODUCT_EN in body
    assert "One map" in body
    assert "Work orders" in body
    assert "一张图" not in body

    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "一张图" in client.get(reverse("dashboard")).content.decode()


def test_the_javascript_catalog_translates_the_live_pages(client, duty_officer):
    client.force_login(duty_officer)

    zh = client.get(reverse("javascript-catalog")).content.decode()
    assert '"Reconnecting\\u2026"' in zh or '"Reconnecting…"' in zh
    assert "重新连接" in zh or "\\u91cd\\u65b0\\u8fde\\u63a5" in zh

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    en = client.get(reverse("javascript-catalog")).content.decode()
    assert "重新连接" not in en


def test_error_pages_keep_the_layout(client, duty_officer):
    client.force_login(duty_officer)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    body = response.content.decode()
    assert PRODUCT_ZH in body
    assert "页面不存在" in body
