"""Threshold rules are configured in admin; warnings are only looked at there."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from monitoring.models import Sensor, SensorType
from tests.factories import SensorFactory, SensorTypeFactory, ThresholdRuleFactory, UserFactory
from warning.models import Direction, ThresholdRule, TransitionKind, Warning, WarningStatus, WarningTransition

RULES = "/admin/warning/thresholdrule/"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _rule_form(**overrides: object) -> dict[str, object]:
    return {
        "name": "Methane upper limit",
        "is_active": "on",
        "sensor_type": "",
        "sensor": "",
        "direction": Direction.ABOVE,
        "level3_threshold": "10",
        "level2_threshold": "20",
        "level1_threshold": "50",
        "dead_band": "1",
        **overrides,
    }


def _warning(sensor: Sensor, *, level: int = 2, with_history: bool = True) -> Warning:
    rule = ThresholdRuleFactory(sensor_type=sensor.sensor_type)
    opened = timezone.now() - timedelta(minutes=30)
    warning = Warning.objects.create(
        sensor=sensor,
        rule=rule,
        level=level,
        opened_at=opened,
        first_value=12.0,
        last_value=23.5,
        peak_value=23.5,
        last_observed_at=opened + timedelta(minutes=10),
    )
    if with_history:
        WarningTransition.objects.create(
            warning=warning, kind=TransitionKind.OPENED, to_level=3, value=12.0, observed_at=opened
        )
        WarningTransition.objects.create(
            warning=warning,
            kind=TransitionKind.ESCALATED,
            from_level=3,
            to_level=2,
            value=23.5,
            observed_at=opened + timedelta(minutes=10),
            note="Concentration still rising",
        )
    return warning


def _form_errors(response) -> dict[str, list[str]]:
    return response.context["adminform"].form.errors


# --- Lists and add pages ---------------------------------------------------------


@pytest.mark.django_db
def test_threshold_rule_list_and_add_page(admin_client):
    ThresholdRuleFactory(name="Methane upper limit")
    ThresholdRuleFactory(name="Pressure override", sensor_type=None, sensor=SensorFactory(code="S-OVR"))

    listing = admin_client.get(RULES)
    add = admin_client.get(f"{RULES}add/")

    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Methane upper limit" in html
    assert "Pressure override" in html
    assert "S-OVR" in html
    assert add.status_code == 200
    assert 'name="level2_threshold"' in add.content.decode()


@pytest.mark.django_db
def test_rule_list_tells_type_rules_from_sensor_overrides(admin_client):
    ThresholdRuleFactory(name="On the type")
    ThresholdRuleFactory(name="On one sensor", sensor_type=None, sensor=SensorFactory())

    on_type = admin_client.get(RULES, {"scope": "type"}).context["cl"].result_list
    on_sensor = admin_client.get(RULES, {"scope": "sensor"}).context["cl"].result_list

    assert [r.name for r in on_type] == ["On the type"]
    assert [r.name for r in on_sensor] == ["On one sensor"]


@pytest.mark.django_db
def test_warning_list_shows_level_status_sensor_and_last_value(admin_client):
    warning = _warning(SensorFactory(code="S-WARN"))

    response = admin_client.get("/admin/warning/warning/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<a href="/admin/warning/warning/{warning.pk}/change/">{warning.pk}</a>' in html
    assert "Level II (orange)" in html
    assert "S-WARN" in html
    assert "23.5" in html


@pytest.mark.django_db
def test_warning_list_filters_by_level_domain_and_district_and_finds_a_sensor(admin_client):
    red = _warning(SensorFactory(code="S-RED"), level=1)
    orange = _warning(SensorFactory(code="S-ORANGE"), level=2)

    by_level = admin_client.get("/admin/warning/warning/", {"level__exact": 1}).context["cl"].result_list
    by_district = (
        admin_client.get("/admin/warning/warning/", {"sensor__district__id__exact": orange.sensor.district_id})
        .context["cl"]
        .result_list
    )
    by_code = admin_client.get("/admin/warning/warning/", {"q": "S-RED"}).context["cl"].result_list
    by_domain = admin_client.get(
        "/admin/warning/warning/", {"sensor__sensor_type__domain__id__exact": red.sensor.sensor_type.domain_id}
    )

    assert list(by_level) == [red]
    assert list(by_district) == [orange]
    assert list(by_code) == [red]
    assert by_domain.context["cl"].result_count == 2


# --- Threshold order: refused on the field to change -------------------------------


@pytest.mark.django_db
def test_upper_limit_with_level2_not_above_level3_is_refused_on_level2(admin_client):
    sensor_type = SensorTypeFactory()

    response = admin_client.post(
        f"{RULES}add/", _rule_form(sensor_type=sensor_type.pk, level3_threshold="20", level2_threshold="20")
    )

    assert response.status_code == 200
    errors = _form_errors(response)
    assert errors["level2_threshold"] == [
        "For an upper limit the Level II threshold must be greater than Level III (20.0)."
    ]
    assert list(errors) == ["level2_threshold"]
    html = response.content.decode()
    assert "For an upper limit the Level II threshold must be greater than Level III (20.0)." in html
    assert 'id="id_level2_threshold_error"' in html  # rendered next to the Level II field
    assert not ThresholdRule.objects.exists()


@pytest.mark.django_db
def test_upper_limit_with_level1_not_above_level2_is_refused_on_level1(admin_client):
    sensor_type = SensorTypeFactory()

    response = admin_client.post(f"{RULES}add/", _rule_form(sensor_type=sensor_type.pk, level1_threshold="15"))

    assert _form_errors(response) == {
        "level1_threshold": ["For an upper limit the Level I threshold must be greater than Level II (20.0)."]
    }
    assert not ThresholdRule.objects.exists()


@pytest.mark.django_db
def test_lower_limit_with_level2_not_below_level3_is_refused_on_level2(admin_client):
    sensor_type = SensorTypeFactory(code="pressure", name="Pipe pressure", unit="MPa")

    response = admin_client.post(
        f"{RULES}add/",
        _rule_form(
            sensor_type=sensor_type.pk,
            direction=Direction.BELOW,
            level3_threshold="0.20",
            level2_threshold="0.25",
            level1_threshold="0.10",
        ),
    )

    assert _form_errors(response) == {
        "level2_threshold": ["For a lower limit the Level II threshold must be less than Level III (0.2)."]
    }
    assert "For a lower limit the Level II threshold must be less than Level III (0.2)." in response.content.decode()
    assert not ThresholdRule.objects.exists()


@pytest.mark.django_db
def test_lower_limit_with_level1_not_below_level2_is_refused_on_level1(admin_client):
    sensor_type = SensorTypeFactory(code="pressure", name="Pipe pressure", unit="MPa")

    response = admin_client.post(
        f"{RULES}add/",
        _rule_form(
            sensor_type=sensor_type.pk,
            direction=Direction.BELOW,
            level3_threshold="0.20",
            level2_threshold="0.15",
            level1_threshold="0.15",
        ),
    )

    assert _form_errors(response) == {
        "level1_threshold": ["For a lower limit the Level I threshold must be less than Level II (0.15)."]
    }
    assert not ThresholdRule.objects.exists()


@pytest.mark.django_db
def test_a_rule_on_both_a_type_and_a_sensor_is_refused_with_one_plain_message(admin_client):
    sensor = SensorFactory()

    response = admin_client.post(f"{RULES}add/", _rule_form(sensor_type=sensor.sensor_type_id, sensor=sensor.pk))

    assert _form_errors(response) == {
        "sensor": ["Clear the sensor, or the sensor type: a rule applies to a whole type or to one sensor."]
    }
    assert "is violated" not in response.content.decode()  # no generic constraint message beside it
    assert not ThresholdRule.objects.exists()


@pytest.mark.django_db
def test_a_rule_on_neither_a_type_nor_a_sensor_is_refused(admin_client):
    response = admin_client.post(f"{RULES}add/", _rule_form())

    assert _form_errors(response) == {
        "sensor_type": ["Choose the sensor type this rule applies to, or a single sensor."]
    }
    assert not ThresholdRule.objects.exists()


@pytest.mark.django_db
def test_a_negative_dead_band_is_refused_on_its_field(admin_client):
    sensor_type = SensorTypeFactory()

    response = admin_client.post(f"{RULES}add/", _rule_form(sensor_type=sensor_type.pk, dead_band="-1"))

    assert list(_form_errors(response)) == ["dead_band"]
    assert "The dead band cannot be negative" in _form_errors(response)["dead_band"][0]
    assert not ThresholdRule.objects.exists()


@pytest.mark.django_db
def test_a_valid_sensor_override_is_saved(admin_client):
    sensor = SensorFactory()

    response = admin_client.post(
        f"{RULES}add/", _rule_form(name="Stricter near the school", sensor=sensor.pk, level3_threshold="5")
    )

    assert response.status_code == 302
    rule = ThresholdRule.objects.get()
    assert (rule.sensor, rule.sensor_type, rule.level3_threshold) == (sensor, None, 5.0)


# --- Rules inline on their sensor type and sensor ------------------------------------


def _inline(prefix: str, rows: list[dict[str, object]], initial: int = 0) -> dict[str, object]:
    data: dict[str, object] = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(initial)}
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


def _inline_rule(**overrides: object) -> dict[str, object]:
    form = _rule_form(**overrides)
    for key in ("sensor_type", "sensor"):
        form.pop(key)
    return form


@pytest.mark.django_db
def test_sensor_type_page_edits_its_rules_inline_and_refuses_a_bad_order(admin_client):
    sensor_type = SensorTypeFactory()
    url = f"/admin/monitoring/sensortype/{sensor_type.pk}/change/"
    base = {
        "code": sensor_type.code,
        "name": sensor_type.name,
        "domain": sensor_type.domain_id,
        "metric": sensor_type.metric,
        "unit": sensor_type.unit,
        "reporting_interval_seconds": "60",
    }

    page = admin_client.get(url).content.decode()
    assert "threshold rules on every sensor of this type" in page.lower()
    assert 'name="threshold_rules-__prefix__-level2_threshold"' in page

    refused = admin_client.post(url, {**base, **_inline("threshold_rules", [_inline_rule(level2_threshold="5")])})
    (inline,) = refused.context["inline_admin_formsets"]
    assert inline.formset.errors == [
        {"level2_threshold": ["For an upper limit the Level II threshold must be greater than Level III (10.0)."]}
    ]
    assert not ThresholdRule.objects.exists()

    saved = admin_client.post(url, {**base, **_inline("threshold_rules", [_inline_rule()])})
    assert saved.status_code == 302
    assert ThresholdRule.objects.get().sensor_type == sensor_type


@pytest.mark.django_db
def test_a_new_sensor_type_is_saved_with_its_rules_in_one_go(admin_client):
    domain = SensorTypeFactory().domain
    base = {
        "code": "flow",
        "name": "Flow meter",
        "domain": domain.pk,
        "metric": "flow",
        "unit": "m3/h",
        "reporting_interval_seconds": "60",
    }

    saved = admin_client.post(
        "/admin/monitoring/sensortype/add/", {**base, **_inline("threshold_rules", [_inline_rule()])}
    )

    assert saved.status_code == 302
    assert ThresholdRule.objects.get().sensor_type == SensorType.objects.get(code="flow")


@pytest.mark.django_db
def test_sensor_page_offers_rule_overrides_inline(admin_client):
    sensor = SensorFactory()
    ThresholdRuleFactory(name="Override near the school", sensor_type=None, sensor=sensor)

    html = admin_client.get(f"/admin/monitoring/sensor/{sensor.pk}/change/").content.decode()

    assert "overrides its type" in html
    assert 'value="Override near the school"' in html


@pytest.mark.django_db
def test_sensor_list_shows_and_filters_the_warning_level_by_name(admin_client):
    SensorFactory(code="S-RED", warning_level=1)
    SensorFactory(code="S-QUIET")

    red = admin_client.get("/admin/monitoring/sensor/", {"warning_level": "1"})
    quiet = admin_client.get("/admin/monitoring/sensor/", {"warning_level": "none"})

    assert [s.code for s in red.context["cl"].result_list] == ["S-RED"]
    assert [s.code for s in quiet.context["cl"].result_list] == ["S-QUIET"]
    assert "Level I (red)" in red.content.decode()


# --- Warnings are read-only ------------------------------------------------------------


@pytest.mark.django_db
def test_warnings_cannot_be_added_in_admin(admin_client):
    assert admin_client.get("/admin/warning/warning/add/").status_code == 403
    assert "/admin/warning/warning/add/" not in admin_client.get("/admin/warning/warning/").content.decode()


@pytest.mark.django_db
def test_warning_page_is_read_only_and_shows_its_transitions(admin_client):
    warning = _warning(SensorFactory())
    url = f"/admin/warning/warning/{warning.pk}/change/"

    response = admin_client.get(url)

    html = response.content.decode()
    assert response.context["title"] == "View warning"
    assert 'name="level"' not in html
    assert 'name="status"' not in html
    (inline,) = (f for f in response.context["inline_admin_formsets"] if f.opts.model is WarningTransition)
    assert [t.kind for t in inline.formset.queryset] == [TransitionKind.OPENED, TransitionKind.ESCALATED]
    assert "Escalated" in html
    assert "Concentration still rising" in html
    assert 'name="transitions-0-note"' not in html  # the history is read-only too

    admin_client.post(url, {"level": 1, "status": WarningStatus.CLOSED})
    warning.refresh_from_db()
    assert (warning.level, warning.status) == (2, WarningStatus.ACTIVE)


@pytest.mark.django_db
def test_only_a_superuser_may_delete_a_warning(client):
    warning = _warning(SensorFactory())
    staff = UserFactory(username="configurator", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="warning"))
    client.force_login(staff)

    assert client.get(f"/admin/warning/warning/{warning.pk}/delete/").status_code == 403
    assert client.get(f"/admin/warning/warning/{warning.pk}/change/").status_code == 200
    assert Warning.objects.filter(pk=warning.pk).exists()


@pytest.mark.django_db
def test_a_superuser_may_delete_a_warning(admin_client):
    warning = _warning(SensorFactory())

    response = admin_client.post(f"/admin/warning/warning/{warning.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Warning.objects.filter(pk=warning.pk).exists()
