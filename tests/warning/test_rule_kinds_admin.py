"""Rule kinds in admin: each configured in its own section, contradictions
refused on the field to change, and the backtest of each kind shown in English and Chinese."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Reading
from tests.factories import GatewayFactory, SensorFactory, SensorTypeFactory, ThresholdRuleFactory
from warning import backtest
from warning.models import Direction, GatewayOutage, RuleKind, ThresholdRule

pytestmark = pytest.mark.django_db

RULES = "/admin/warning/thresholdrule/"
BACKTEST = RULES + "backtest/"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def sensor_type():
    return SensorTypeFactory()


def form(sensor_type, **overrides: object) -> dict[str, object]:
    return {
        "name": "Pipe pressure band",
        "is_active": "on",
        "sensor_type": sensor_type.pk,
        "sensor": "",
        "kind": RuleKind.THRESHOLD,
        "direction": Direction.ABOVE,
        "level3_threshold": "10",
        "level2_threshold": "20",
        "level1_threshold": "50",
        "dead_band": "1",
        **overrides,
    }


BAND = {
    "direction": Direction.OUTSIDE,
    "level3_threshold": "0.6",
    "level2_threshold": "0.7",
    "level1_threshold": "0.8",
    "level3_lower_threshold": "0.2",
    "level2_lower_threshold": "0.15",
    "level1_lower_threshold": "0.1",
    "dead_band": "0.02",
}
NO_DATA = {
    "kind": RuleKind.NO_DATA,
    "level3_threshold": "",
    "level2_threshold": "",
    "level1_threshold": "",
    "dead_band": "0",
    "no_data_seconds": "900",
    "no_data_level": "2",
}


def test_the_rule_page_has_a_section_for_each_kind(admin_client):
    page = admin_client.get(RULES + "add/").content.decode()
    for section in ("Kind", "Band (direction “outside”)", "Duration", "Rate of change", "No data"):
        assert f'<h2 class="fieldset-heading">{section}</h2>' in page or f">{section}<" in page, section
    for field in ("level3_lower_threshold", "hold_seconds", "hold_readings", "rate_window_seconds", "no_data_seconds"):
        assert f'name="{field}"' in page


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        ({**BAND, "level3_lower_threshold": "0.65"}, "level3_lower_threshold", "The band's bounds cross"),
        ({**NO_DATA, "hold_seconds": "300"}, "hold_seconds", "a no-data rule has none of its own"),
        ({**NO_DATA, "level3_threshold": "5"}, "level3_threshold", "compares no value"),
        ({"kind": RuleKind.RATE}, "rate_window_seconds", "Enter the window"),
        ({"hold_seconds": "60", "hold_readings": "3"}, "hold_readings", "not both"),
    ],
)
def test_contradictory_settings_are_refused_on_the_field_to_change(admin_client, sensor_type, overrides, field, says):
    response = admin_client.post(RULES + "add/", form(sensor_type, **overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert says in errors[field][0], errors
    assert not ThresholdRule.objects.exists()


@pytest.mark.parametrize("overrides", [BAND, NO_DATA, {"kind": RuleKind.RATE, "rate_window_seconds": "3600"}])
def test_a_consistent_rule_of_each_kind_is_saved(admin_client, sensor_type, overrides):
    response = admin_client.post(RULES + "add/", form(sensor_type, **overrides))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ThresholdRule.objects.get().kind == overrides.get("kind", RuleKind.THRESHOLD)


def test_a_band_is_backtested_on_both_sides(sensor_type):
    numbers = {k: float(v) for k, v in BAND.items() if k != "direction"}
    rule = ThresholdRule.objects.create(sensor_type=sensor_type, name="band", direction=Direction.OUTSIDE, **numbers)
    sensor = SensorFactory(sensor_type=sensor_type)
    now = timezone.now()
    values = [0.4, 0.18, 0.4, 0.72, 0.4, 0.4]
    Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=now - timedelta(minutes=60 - i), value=v) for i, v in enumerate(values)
    )
    result = backtest.rule_backtest(proposed=rule, current=None, days=1)
    low, high = result.proposed.warnings
    assert (low.peak_level, low.peak_value) == (3, 0.18)
    assert (high.peak_level, high.peak_value) == (2, 0.72)
    assert low.recovered_at is not None
    assert high.recovered_at is not None


KIND_PAGES = {
    # overrides, values a minute apart (the last a minute ago; no data: 20 minutes ago), what the page says in
    # English, then in Chinese
    "duration": (
        {"hold_readings": "3"},
        [12, 13, 5, 12, 13, 14, 2],
        ["only once 3 readings in a row reached it"],
        ["连续 3 个读数"],
    ),
    "rate": (
        {"kind": RuleKind.RATE, "rate_window_seconds": "600"},
        [1, 2, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16],
        ["rise above the lowest reading of the 600 s up to it"],
        ["600 秒"],
    ),
    "rate in percent": (
        {"kind": RuleKind.RATE, "rate_window_seconds": "600", "rate_in_percent": "on", "direction": Direction.BELOW},
        [100, 85, 40, 40],
        ["fall below the highest reading of the 600 s up to it", "The change is in percent", "60 %"],
        ["百分比"],
    ),
    "no data": (NO_DATA, [1], ["silent for more than 900 s", "silent since"], ["900 秒", "无数据"]),
}


@pytest.mark.parametrize("kind", KIND_PAGES)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_backtest_page_replays_every_kind_and_says_how_in_each_language(admin_client, sensor_type, kind, language):
    overrides, values, english, chinese = KIND_PAGES[kind]
    sensor = SensorFactory(sensor_type=sensor_type, code="PIPE-0007")
    now = timezone.now()
    step = 20 if kind == "no data" else 1
    Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=now - timedelta(minutes=step * (len(values) - i)), value=v)
        for i, v in enumerate(values)
    )

    response = admin_client.post(
        BACKTEST,
        {**form(sensor_type, **overrides), "backtest_days": "7"},
        HTTP_ACCEPT_LANGUAGE=language,
    )

    assert response.status_code == 200
    assert "error" not in response.context, response.context.get("error")
    assert len(response.context["result"].proposed.warnings) == 1
    page = response.content.decode()
    assert "PIPE-0007" in page
    for said in english if language == "en" else chinese:
        assert said in page


def test_a_saved_duration_rule_is_compared_with_the_rule_as_entered(admin_client, sensor_type):
    rule = ThresholdRuleFactory(sensor_type=sensor_type, hold_readings=3)
    sensor = SensorFactory(sensor_type=sensor_type)
    now = timezone.now()
    Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=now - timedelta(minutes=10 - i), value=v) for i, v in enumerate([12, 13, 2])
    )

    response = admin_client.post(f"{BACKTEST}?rule={rule.pk}", {**form(sensor_type), "backtest_days": "7"})

    result = response.context["result"]
    assert (len(result.proposed.warnings), len(result.current.warnings)) == (1, 0)
    assert response.context["only_proposed_total"] == 1
    assert "only once 3 readings in a row" in response.context["current_replayed_as"]


def test_a_saved_rule_whose_settings_contradict_each_other_is_left_out_and_the_page_says_so(admin_client, sensor_type):
    rule = ThresholdRuleFactory(sensor_type=sensor_type)
    ThresholdRule.objects.filter(pk=rule.pk).update(hold_seconds=60, hold_readings=3)

    response = admin_client.post(f"{BACKTEST}?rule={rule.pk}", {**form(sensor_type), "backtest_days": "7"})

    assert response.context["result"].current is None
    assert "settings that contradict each other" in response.content.decode()


def test_gateway_outages_are_listed_read_only(admin_client):
    GatewayOutage.objects.create(
        gateway=GatewayFactory(code="gw-north"), level=2, opened_at=timezone.now(), silent_sensors=120
    )
    page = admin_client.get("/admin/warning/gatewayoutage/").content.decode()
    assert "120" in page
    assert admin_client.get("/admin/warning/gatewayoutage/add/").status_code == 403
