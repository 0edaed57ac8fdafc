"""The administrator configures domains, districts, sensor types, sensors and gateways in admin."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.core.paginator import UnorderedObjectListWarning
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring.admin import CappedCountPaginator
from monitoring.models import Gateway, Reading, RiskDomain, Sensor, SensorStatus, SensorType
from monitoring.services import gateway_create
from organisation.models import District
from tests.factories import (
    DepartmentFactory,
    DistrictFactory,
    GatewayFactory,
    RiskDomainFactory,
    SensorFactory,
    SensorTypeFactory,
)

TOKEN_MESSAGE = re.compile(r"New API token of gateway (?P<code>[\w-]+): (?P<token>[\w-]+) — copy it now")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _readings(sensor: Sensor, count: int) -> list[Reading]:
    start = timezone.now() - timedelta(hours=1)
    return Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=start + timedelta(minutes=i), value=float(i)) for i in range(count)
    )


def _token_messages(response) -> list[re.Match]:
    return [m for m in (TOKEN_MESSAGE.search(str(msg)) for msg in get_messages(response.wsgi_request)) if m]


# --- Every model has a working list and add page -----------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "shows"),
    [
        ("riskdomain", "Urban gas"),
        ("sensortype", "Methane detector"),
        ("sensor", "S-LIST-1"),
        ("gateway", "gw-list"),
        ("reading", "S-LIST-1"),
    ],
)
def test_each_changelist_lists_its_rows(admin_client, model, shows):
    domain = RiskDomainFactory(code="gas", name="Urban gas")
    district = DistrictFactory(code="340104", name="Shushan")
    sensor = SensorFactory(code="S-LIST-1", sensor_type=SensorTypeFactory(domain=domain), district=district)
    GatewayFactory(code="gw-list")
    _readings(sensor, 3)

    response = admin_client.get(f"/admin/monitoring/{model}/")

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
    assert shows in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["riskdomain", "sensortype", "sensor", "gateway"])
def test_each_configurable_model_has_an_add_page(admin_client, model):
    response = admin_client.get(f"/admin/monitoring/{model}/add/")

    assert response.status_code == 200
    assert 'name="code"' in response.content.decode()


# --- Maps ---------------------------------------------------------------------


@pytest.mark.django_db
def test_sensor_location_is_edited_on_a_leaflet_map_served_from_bundled_static_files(admin_client):
    sensor = SensorFactory()

    html = admin_client.get(f"/admin/monitoring/sensor/{sensor.pk}/change/").content.decode()

    assert '<script src="/static/leaflet/leaflet.js"></script>' in html
    assert '<link href="/static/leaflet/leaflet.css" media="screen" rel="stylesheet">' in html
    assert '<div id="id_location-map"' in html
    assert "geodjango_id_location.geom_type = 'Point'" in html
    assert "117.23, 31.82" in html  # the stored point, as GeoJSON for the map
    # Nothing is fetched from a CDN: every script and stylesheet is local.
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', html)


@pytest.mark.django_db
def test_district_boundary_is_edited_on_a_leaflet_map(admin_client):
    district = DistrictFactory()

    html = admin_client.get(f"/admin/organisation/district/{district.pk}/change/").content.decode()

    assert '<script src="/static/leaflet/leaflet.js"></script>' in html
    assert "geodjango_id_boundary.geom_type = 'MultiPolygon'" in html


# The threshold rule inline (added by the warning app's admin), left empty.
NO_RULES = {"threshold_rules-TOTAL_FORMS": "0", "threshold_rules-INITIAL_FORMS": "0"}


@pytest.mark.django_db
def test_adding_a_sensor_saves_the_point_from_the_map(admin_client):
    sensor_type = SensorTypeFactory()
    district = DistrictFactory()

    response = admin_client.post(
        "/admin/monitoring/sensor/add/",
        {
            "code": "GAS-0001",
            "name": "Valve well, Wangjiang Rd",
            "sensor_type": sensor_type.pk,
            "is_active": "on",
            "location": '{"type": "Point", "coordinates": [117.25, 31.85]}',
            "district": district.pk,
            "address": "Wangjiang Rd 1",
            **NO_RULES,
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    sensor = Sensor.objects.get(code="GAS-0001")
    assert (sensor.location.x, sensor.location.y) == (117.25, 31.85)
    assert sensor.status == SensorStatus.UNKNOWN


# --- Sensors ------------------------------------------------------------------


@pytest.mark.django_db
def test_sensor_state_written_by_the_pipeline_is_read_only(admin_client):
    sensor = SensorFactory(status=SensorStatus.ONLINE, latest_value=12.5, warning_level=2)
    url = f"/admin/monitoring/sensor/{sensor.pk}/change/"

    html = admin_client.get(url).content.decode()
    for field in ("status", "latest_value", "latest_observed_at", "warning_level"):
        assert f'name="{field}"' not in html
    assert '<div class="readonly">12.5</div>' in html

    admin_client.post(
        url,
        {
            "code": sensor.code,
            "name": "Renamed",
            "sensor_type": sensor.sensor_type_id,
            "is_active": "on",
            "location": '{"type": "Point", "coordinates": [117.23, 31.82]}',
            "status": SensorStatus.OFFLINE,
            "latest_value": "99",
            "warning_level": "1",
            "threshold_rules-TOTAL_FORMS": "0",
            "threshold_rules-INITIAL_FORMS": "0",
        },
    )

    sensor.refresh_from_db()
    assert sensor.name == "Renamed"
    assert (sensor.status, sensor.latest_value, sensor.warning_level) == (SensorStatus.ONLINE, 12.5, 2)


@pytest.mark.django_db
def test_sensor_list_shows_state_and_links_to_its_readings(admin_client):
    SensorFactory(code="S-STATE", latest_value=12.5, status=SensorStatus.ONLINE)

    html = admin_client.get("/admin/monitoring/sensor/").content.decode()

    assert "12.5 %LEL" in html
    assert "Online" in html
    sensor = Sensor.objects.get(code="S-STATE")
    change = admin_client.get(f"/admin/monitoring/sensor/{sensor.pk}/change/").content.decode()
    assert f"/admin/monitoring/reading/?sensor__id__exact={sensor.pk}" in change


@pytest.mark.django_db
def test_sensor_list_filters_by_domain_district_and_owner(admin_client):
    water = RiskDomainFactory(code="water", name="Water")
    pressure = SensorTypeFactory(code="pressure", name="Pipe pressure", domain=water, unit="MPa")
    owner = DepartmentFactory(code="water-co", name="Water company")
    SensorFactory(code="S-GAS")
    SensorFactory(code="S-WATER", sensor_type=pressure, owner_department=owner)

    by_domain = admin_client.get("/admin/monitoring/sensor/", {"sensor_type__domain__id__exact": water.pk})
    by_owner = admin_client.get("/admin/monitoring/sensor/", {"owner_department__id__exact": owner.pk})
    by_search = admin_client.get("/admin/monitoring/sensor/", {"q": "S-GAS"})

    assert [s.code for s in by_domain.context["cl"].result_list] == ["S-WATER"]
    assert [s.code for s in by_owner.context["cl"].result_list] == ["S-WATER"]
    assert [s.code for s in by_search.context["cl"].result_list] == ["S-GAS"]


@pytest.mark.django_db
def test_sensor_list_query_count_does_not_grow_with_the_rows(admin_client, django_assert_max_num_queries):
    # Every sensor with its own type, district and owner: an N+1 on any of
    # them would add 30 queries.
    for i in range(30):
        SensorFactory(
            sensor_type=SensorTypeFactory(code=f"type-{i}", name=f"Type {i}"),
            district=DistrictFactory(code=f"3499{i:02d}"),
            owner_department=DepartmentFactory(code=f"owner-{i}"),
        )

    with django_assert_max_num_queries(10) as captured:
        response = admin_client.get("/admin/monitoring/sensor/")

    assert response.context["cl"].result_count == 30
    assert response.content.decode().count('<tr><td class="action-checkbox">') == 30
    # Neither the rows nor the district filter load district boundaries.
    assert not [q["sql"] for q in captured.captured_queries if '"boundary"' in q["sql"]]


@pytest.mark.django_db
def test_sensor_foreign_keys_use_autocomplete(admin_client):
    html = admin_client.get("/admin/monitoring/sensor/add/").content.decode()

    for field in ("sensor_type", "district", "owner_department", "gateway"):
        assert re.search(rf'<select name="{field}"[^>]*class="[^"]*admin-autocomplete', html), field


@pytest.mark.django_db
def test_sensor_form_autocompletes_types_districts_and_owners_in_order(admin_client, recwarn):
    SensorTypeFactory(code="b-methane", name="Methane detector B")
    SensorTypeFactory(code="a-methane", name="Methane detector A")
    DistrictFactory(code="340111", name="Baohe")
    DistrictFactory(code="340104", name="Shushan")
    DepartmentFactory(code="gas-co", name="Gas company")

    def search(field: str, term: str) -> list[str]:
        response = admin_client.get(
            "/admin/autocomplete/",
            {"app_label": "monitoring", "model_name": "sensor", "field_name": field, "term": term},
        )
        return [row["text"] for row in response.json()["results"]]

    assert search("sensor_type", "methane") == ["Methane detector A (%LEL)", "Methane detector B (%LEL)"]
    assert search("district", "") == ["Shushan", "Baohe"]  # by GB/T 2260 code
    assert search("owner_department", "gas") == ["Gas company"]
    assert not [w for w in recwarn if w.category is UnorderedObjectListWarning]


# --- Gateways and their tokens -------------------------------------------------


@pytest.mark.django_db
def test_adding_a_gateway_issues_its_first_token_and_shows_it_once(admin_client):
    response = admin_client.post(
        "/admin/monitoring/gateway/add/", {"code": "gw-east", "name": "East gateway"}, follow=True
    )

    gateway = Gateway.objects.get(code="gw-east")
    (message,) = _token_messages(response)
    token = message["token"]
    assert message["code"] == "gw-east"
    assert "it cannot be shown again" in response.content.decode()
    assert Gateway.hash_token(token) == gateway.token_hash
    assert gateway.token_prefix == token[:8]
    assert gateway.is_active is False  # the box was left unticked, and that is kept
    again = admin_client.get(f"/admin/monitoring/gateway/{gateway.pk}/change/").content.decode()
    assert token not in again
    assert gateway.token_hash not in again


@pytest.mark.django_db
def test_gateway_form_never_offers_the_token_or_its_hash(admin_client):
    gateway, token = gateway_create(code="gw-1", name="Gateway 1")

    html = admin_client.get(f"/admin/monitoring/gateway/{gateway.pk}/change/").content.decode()

    assert 'name="token_hash"' not in html
    assert 'name="token_prefix"' not in html
    assert gateway.token_hash not in html
    assert token not in html
    assert f"<code>{token[:8]}…</code>" in html
    assert f'href="/admin/monitoring/gateway/{gateway.pk}/issue-token/"' in html


@pytest.mark.django_db
def test_issuing_a_new_token_asks_first_then_shows_the_token_once(admin_client):
    gateway, old_token = gateway_create(code="gw-1", name="Gateway 1")
    old_hash = gateway.token_hash
    url = f"/admin/monitoring/gateway/{gateway.pk}/issue-token/"

    confirm = admin_client.get(url)
    gateway.refresh_from_db()
    assert gateway.token_hash == old_hash  # looking at the page changes nothing
    assert "Its current token stops working at once" in confirm.content.decode()

    response = admin_client.post(url, follow=True)

    assert response.redirect_chain == [(f"/admin/monitoring/gateway/{gateway.pk}/change/", 302)]
    (message,) = _token_messages(response)
    token = message["token"]
    gateway.refresh_from_db()
    assert Gateway.hash_token(token) == gateway.token_hash
    assert Gateway.hash_token(old_token) != gateway.token_hash
    assert gateway.token_hash != old_hash
    assert token in response.content.decode()
    assert token not in admin_client.get(f"/admin/monitoring/gateway/{gateway.pk}/change/").content.decode()


@pytest.mark.django_db
def test_a_new_token_is_recorded_in_the_gateway_history_without_the_token(admin_client, admin_user):
    gateway, _ = gateway_create(code="gw-1", name="Gateway 1")

    response = admin_client.post(f"/admin/monitoring/gateway/{gateway.pk}/issue-token/", follow=True)

    (message,) = _token_messages(response)
    history = admin_client.get(f"/admin/monitoring/gateway/{gateway.pk}/history/").content.decode()
    assert "Changed API token." in history
    assert message["token"] not in history
    entry = LogEntry.objects.get(object_id=str(gateway.pk))
    assert entry.user == admin_user


@pytest.mark.django_db
def test_issuing_a_token_for_an_unknown_gateway_is_not_found(admin_client):
    assert admin_client.get("/admin/monitoring/gateway/999999/issue-token/").status_code == 404
    assert admin_client.post("/admin/monitoring/gateway/not-a-number/issue-token/").status_code == 404


@pytest.mark.django_db
def test_the_list_action_issues_a_new_token_per_selected_gateway(admin_client):
    first, first_token = gateway_create(code="gw-1", name="Gateway 1")
    second, _ = gateway_create(code="gw-2", name="Gateway 2")
    untouched, untouched_token = gateway_create(code="gw-3", name="Gateway 3")

    response = admin_client.post(
        "/admin/monitoring/gateway/",
        {"action": "issue_new_tokens", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    tokens = {m["code"]: m["token"] for m in _token_messages(response)}
    assert set(tokens) == {"gw-1", "gw-2"}
    for gateway in (first, second):
        gateway.refresh_from_db()
        assert Gateway.hash_token(tokens[gateway.code]) == gateway.token_hash
    first.refresh_from_db()
    assert Gateway.hash_token(first_token) != first.token_hash
    untouched.refresh_from_db()
    assert Gateway.hash_token(untouched_token) == untouched.token_hash


@pytest.mark.django_db
def test_issuing_a_token_needs_change_permission(client, admin_user):
    gateway, token = gateway_create(code="gw-1", name="Gateway 1")
    viewer = type(admin_user).objects.create_user("viewer", password="pass-word-123", is_staff=True)
    client.force_login(viewer)

    response = client.post(f"/admin/monitoring/gateway/{gateway.pk}/issue-token/")

    assert response.status_code == 403
    gateway.refresh_from_db()
    assert Gateway.hash_token(token) == gateway.token_hash


@pytest.mark.django_db
def test_the_token_shown_when_a_gateway_is_added_authenticates_its_readings(admin_client, client):
    response = admin_client.post(
        "/admin/monitoring/gateway/add/", {"code": "gw-east", "name": "East gateway", "is_active": "on"}, follow=True
    )
    (message,) = _token_messages(response)
    gateway = Gateway.objects.get(code="gw-east")
    SensorFactory(code="GAS-0001", gateway=gateway)
    client.logout()

    readings = [{"sensor": "GAS-0001", "observed_at": timezone.now().isoformat(), "value": 1.5}]
    posted = client.post(
        "/api/v1/readings/",
        readings,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {message['token']}",
    )

    assert posted.status_code == 200, posted.content
    assert posted.json() == {"accepted": 1, "duplicates": 0, "errors": []}
    assert Gateway.objects.for_token(message["token"]) == gateway


# --- Readings: the big table ----------------------------------------------------


@pytest.mark.django_db
def test_readings_are_read_only(admin_client):
    sensor = SensorFactory()
    (reading,) = _readings(sensor, 1)

    assert admin_client.get("/admin/monitoring/reading/add/").status_code == 403
    html = admin_client.get(f"/admin/monitoring/reading/{reading.pk}/change/").content.decode()
    assert 'name="value"' not in html
    assert "deletelink" not in html
    changelist = admin_client.get("/admin/monitoring/reading/").content.decode()
    assert 'name="action"' not in changelist  # no "delete selected" on millions of rows


@pytest.mark.django_db
def test_reading_list_never_counts_the_whole_table(admin_client):
    _readings(SensorFactory(), 5)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/monitoring/reading/")

    assert response.status_code == 200
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "monitoring_reading" in q["sql"]]
    assert counts, "the paginator counts, but bounded"
    assert all("LIMIT" in sql for sql in counts), counts
    assert response.context["cl"].show_full_result_count is False
    assert response.context["cl"].date_hierarchy is None


@pytest.mark.django_db
def test_reading_count_is_capped(monkeypatch):
    sensor = SensorFactory()
    _readings(sensor, 8)
    monkeypatch.setattr(CappedCountPaginator, "cap", 5)

    assert CappedCountPaginator(Reading.objects.order_by("-id"), 2).count == 5
    assert CappedCountPaginator(Reading.objects.filter(value__lt=3).order_by("-id"), 2).count == 3


@pytest.mark.django_db
def test_readings_are_found_by_exact_sensor_code_newest_first(admin_client):
    wanted = SensorFactory(code="S-WANTED")
    _readings(wanted, 3)
    _readings(SensorFactory(code="S-WANTED-2"), 2)

    exact = admin_client.get("/admin/monitoring/reading/", {"q": "S-WANTED"})
    other_case = admin_client.get("/admin/monitoring/reading/", {"q": "s-wanted"})
    by_link = admin_client.get("/admin/monitoring/reading/", {"sensor__id__exact": wanted.pk})

    assert [r.value for r in exact.context["cl"].result_list] == [2.0, 1.0, 0.0]
    assert list(other_case.context["cl"].result_list) == []
    assert [r.value for r in by_link.context["cl"].result_list] == [2.0, 1.0, 0.0]


# --- Domains, districts, types -----------------------------------------------------


@pytest.mark.django_db
def test_adding_a_risk_domain_and_a_sensor_type(admin_client):
    admin_client.post(
        "/admin/monitoring/riskdomain/add/",
        {"code": "bridge", "name": "Bridges", "category": "lifeline", "sort_order": "3"},
    )
    domain = RiskDomain.objects.get(code="bridge")
    response = admin_client.post(
        "/admin/monitoring/sensortype/add/",
        {
            "code": "deflection",
            "name": "Deflection gauge",
            "domain": domain.pk,
            "metric": "mid-span deflection",
            "unit": "mm",
            "reporting_interval_seconds": "300",
            **NO_RULES,
        },
    )

    assert response.status_code == 302
    assert SensorType.objects.get(code="deflection").domain == domain


@pytest.mark.django_db
def test_district_list_counts_its_sensors(admin_client):
    district = DistrictFactory(name="Baohe")
    SensorFactory.create_batch(2, district=district)

    response = admin_client.get("/admin/organisation/district/")

    (row,) = response.context["cl"].result_list
    assert isinstance(row, District)
    assert row.sensor_count == 2


@pytest.mark.django_db
def test_saving_a_sensor_keeps_what_ingestion_wrote_meanwhile(admin_client, monkeypatch):
    from django.contrib import admin as django_admin

    sensor = SensorFactory(status=SensorStatus.ONLINE, latest_value=12.5)
    sensor_admin = django_admin.site._registry[Sensor]
    original = type(sensor_admin).save_form

    def save_form_while_a_reading_arrives(self, request, form, change):
        # Evaluation raises the sensor's level between the form's load and its save.
        Sensor.objects.filter(pk=sensor.pk).update(warning_level=1)
        return original(self, request, form, change)

    monkeypatch.setattr(type(sensor_admin), "save_form", save_form_while_a_reading_arrives)
    response = admin_client.post(
        f"/admin/monitoring/sensor/{sensor.pk}/change/",
        {
            "code": sensor.code,
            "name": "Renamed",
            "sensor_type": sensor.sensor_type_id,
            "is_active": "on",
            "location": '{"type": "Point", "coordinates": [117.23, 31.82]}',
            **NO_RULES,
        },
    )

    assert response.status_code == 302
    sensor.refresh_from_db()
    assert (sensor.name, sensor.warning_level, sensor.latest_value) == ("Renamed", 1, 12.5)
