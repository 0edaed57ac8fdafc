"""The silences page (who silenced what, why, until when; end early), the
admin's silences, and the map's maintenance marker."""

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from monitoring.models import Asset, AssetKind
from tests.factories import SensorFactory, UserFactory
from warning.models import Silence

pytestmark = pytest.mark.django_db

PAGE = "/warnings/silences/"


@pytest.fixture
def officer_client(client, duty_officer):
    client.force_login(duty_officer)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def local(at) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")


def test_the_page_lists_silences_with_who_and_why_in_force_first(officer_client, duty_officer):
    sensor = SensorFactory(code="GAS-001")
    now = timezone.now()
    author = UserFactory(username="wang", first_name="Wang", last_name="Wei")
    Silence.objects.create(
        sensor=sensor, reason="Valve replacement", created_by=author, starts_at=now, ends_at=now + timedelta(hours=2)
    )
    Silence.objects.create(
        district=sensor.district,
        reason="Old work",
        created_by=author,
        starts_at=now - timedelta(days=1),
        ends_at=now - timedelta(hours=20),
    )

    response = officer_client.get(PAGE)

    body = response.content.decode()
    assert response.status_code == 200
    current = body[body.index('id="silences-current"') : body.index('id="silences-ended"')]
    for shown in ("Valve replacement", "Wang Wei", "GAS-001"):
        assert shown in current
    assert "End now" in current
    assert "Old work" not in current
    assert "Old work" in body[body.index('id="silences-ended"') :]


def test_a_duty_officer_silences_a_sensor_from_the_page(officer_client, duty_officer):
    sensor = SensorFactory(code="GAS-002")
    ends = timezone.now() + timedelta(hours=3)

    response = officer_client.post(PAGE, {"sensor": "GAS-002", "reason": "Calibration", "ends_at": local(ends)})

    assert response.status_code == 302
    silence = Silence.objects.get()
    assert (silence.sensor, silence.created_by, silence.reason) == (sensor, duty_officer, "Calibration")
    assert silence.is_in_force()


def test_the_warning_page_link_fills_in_the_sensor(officer_client):
    sensor = SensorFactory(code="GAS-003")

    response = officer_client.get(PAGE, {"sensor": sensor.pk})

    assert 'value="GAS-003"' in response.content.decode()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"sensor": "GAS-004", "starts_at": 3, "ends_at": 1}, "ends before it starts"),
        ({"sensor": "GAS-004", "starts_at": -5, "ends_at": -2}, "expiry is in the past"),
        ({"sensor": "NOPE", "ends_at": 1}, "No sensor has the code NOPE"),
        ({"ends_at": 1}, "exactly one of sensor, gateway, district or sensor type"),
    ],
)
def test_a_bad_silence_is_refused_on_the_page_with_what_to_change(officer_client, form, message):
    sensor = SensorFactory(code="GAS-004")
    now = timezone.now()
    data = {"reason": "Work"}
    for name, value in form.items():
        data[name] = local(now + timedelta(hours=value)) if isinstance(value, int) else value
    if form.get("sensor") == "GAS-004" and "district" in form:
        data["district"] = sensor.district_id

    response = officer_client.post(PAGE, data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Silence.objects.exists()


def test_ending_a_silence_early_from_the_page(officer_client, duty_officer):
    now = timezone.now()
    silence = Silence.objects.create(
        sensor=SensorFactory(), reason="Work", created_by=duty_officer, starts_at=now, ends_at=now + timedelta(hours=2)
    )

    response = officer_client.post(f"{PAGE}{silence.pk}/end/", follow=True)

    silence.refresh_from_db()
    assert silence.ended_by == duty_officer
    assert not silence.is_in_force()
    assert "ended" in response.content.decode()
    again = officer_client.post(f"{PAGE}{silence.pk}/end/", follow=True)
    assert "already ended" in again.content.decode()


def test_department_staff_may_not_see_or_set_silences(client, staff_a):
    client.force_login(staff_a)

    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"reason": "x"}).status_code == 403
    assert not Silence.objects.exists()


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _admin_form(sensor, **overrides) -> dict:
    now = timezone.localtime()
    return {
        "sensor": sensor.pk,
        "reason": "Bridge inspection",
        "starts_at_0": now.strftime("%Y-%m-%d"),
        "starts_at_1": now.strftime("%H:%M:%S"),
        "ends_at_0": (now + timedelta(hours=1)).strftime("%Y-%m-%d"),
        "ends_at_1": (now + timedelta(hours=1)).strftime("%H:%M:%S"),
        **overrides,
    }


def test_an_administrator_adds_a_silence_and_is_its_author(admin_client, admin_user):
    sensor = SensorFactory()

    response = admin_client.post("/admin/warning/silence/add/", _admin_form(sensor))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Silence.objects.get().created_by == admin_user


def test_the_admin_refuses_a_silence_ending_before_it_starts(admin_client):
    sensor = SensorFactory()
    earlier = (timezone.localtime() - timedelta(minutes=30)).strftime("%H:%M:%S")

    response = admin_client.post(
        "/admin/warning/silence/add/",
        _admin_form(sensor, ends_at_0=timezone.localtime().strftime("%Y-%m-%d"), ends_at_1=earlier),
    )

    assert response.status_code == 200
    assert "The silence ends before it starts: set the expiry after the start" in response.content.decode()
    assert not Silence.objects.exists()


def test_the_admin_lists_assets_and_a_sensor_belongs_to_one(admin_client):
    asset = Asset.objects.create(code="tunnel-3", name="Tunnel section 3", kind=AssetKind.TUNNEL_SECTION)
    SensorFactory(asset=asset)

    response = admin_client.get("/admin/monitoring/asset/")

    assert response.status_code == 200
    assert "Tunnel section 3" in response.content.decode()
    assert asset.sensors.count() == 1


def test_the_map_marks_a_silenced_sensor_as_under_maintenance(client, duty_officer):
    silenced = SensorFactory(code="M-1", location=Point(117.30, 31.85, srid=4326))
    SensorFactory(code="M-2", location=Point(117.31, 31.85, srid=4326))
    now = timezone.now()
    Silence.objects.create(
        sensor=silenced, reason="Work", created_by=duty_officer, starts_at=now, ends_at=now + timedelta(hours=1)
    )
    client.force_login(duty_officer)

    body = client.get("/api/v1/map/sensors/", {"bbox": "117.2,31.8,117.4,31.9", "zoom": 14}).json()

    marks = {f["properties"]["code"]: f["properties"]["maintenance"] for f in body["sensors"]["features"]}
    assert marks == {"M-1": True, "M-2": False}
