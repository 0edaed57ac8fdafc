"""The readings chart in a warning's detail, in a real browser: a day of the
sensor's readings resampled by the server, the three threshold lines and the
warning's transitions, in the reader's language; the toggle to 7 days."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.models import Reading
from monitoring.rollups import readings_roll_up
from monitoring.services import readings_record_stored
from tests.e2e.conftest import log_in
from tests.e2e.test_live_loop import build_city, off_the_event_loop
from tests.factories import SensorFactory, SensorTypeFactory, ThresholdRuleFactory
from tests.live import wait_for
from warning import services
from warning.models import Direction, Warning

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# One reading every 2 minutes for 23 hours (the chart's day is 2-minute buckets).
READINGS = 690
# The leak: readings 670 to 681 (from about 40 minutes ago), the first two at
# Level III, then Level II; recent enough to be a live warning, not a
# back-filled one (WARNING_HISTORICAL_AFTER_MINUTES).
LEAK = range(670, 682)


def seed_a_day(sensor, quiet: float = 5.0, rising: float = 15.0, peak: float = 25.0) -> tuple[Warning, list]:
    """Quiet at 5 %LEL, a leak rising to 25 (Level III, then II) for half an hour, quiet again."""
    now = timezone.now().replace(second=0, microsecond=0)
    latest = now - timedelta(minutes=now.minute % 2 + 2)
    times = [latest - timedelta(minutes=2 * k) for k in reversed(range(READINGS))]
    values = [quiet] * READINGS
    for i in LEAK:
        values[i] = rising if i < LEAK.start + 2 else peak
    stored = Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=t, value=v) for t, v in zip(times, values, strict=True)
    )
    readings_record_stored(readings=stored)
    off_the_event_loop(services.sensor_evaluate, sensor_id=sensor.pk)
    readings_roll_up()
    readings_roll_up()
    return Warning.objects.get(sensor=sensor), times


def chart_state(page):
    return page.evaluate(
        """() => { const c = window.citysafetyDashboard.chart;
            const option = c.instance ? c.instance.getOption() : null;
            const canvas = document.querySelector("[data-reading-chart] canvas");
            let inked = 0;
            if (canvas) {
              const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
              for (let i = 3; i < data.length; i += 4) if (data[i]) inked++;
            }
            return { range: c.range, points: c.points, step: c.step, draws: c.draws, error: c.error,
              thresholds: c.thresholds.map((t) => [t.level, t.value, t.lower]), marks: c.marks, inked,
              width: canvas ? canvas.getBoundingClientRect().width : 0,
              labels: option ? option.series[2].markLine.data.map((d) => d.label.formatter) : [] }; }"""
    )


@pytest.mark.parametrize(
    ("locale", "day", "week", "level_one", "opened"),
    [("zh-CN", "24 小时", "7 天", "一级", "触发预警"), ("en-GB", "24 hours", "7 days", "Level I", "Opened")],
    ids=["zh", "en"],
)
def test_the_chart_draws_a_day_with_thresholds_and_transitions_and_toggles_to_a_week(
    daphne_server, new_context, shoot, locale, day, week, level_one, opened
):
    city = build_city()
    warning, times = seed_a_day(city.sensor)
    kinds = list(warning.transitions.order_by("created_at", "id").values_list("kind", flat=True))
    assert kinds == ["opened", "escalated", "recovered"]
    assert not warning.is_historical
    page = new_context(locale=locale).new_page()
    log_in(page, daphne_server.url, "duty")
    page.goto(f"{daphne_server.url}/dashboard/")
    page.wait_for_function("() => window.citysafetyDashboard && window.echarts")
    page.evaluate(f"window.citysafetyDashboard.select({warning.pk}, {{fly: false}})")

    chart = page.locator("[data-reading-chart]")
    expect(chart.locator("[data-chart-range='24h']")).to_have_text(day)
    expect(chart.locator("[data-chart-range='24h']")).to_have_attribute("aria-pressed", "true")
    # Drawn first from the list's row, then with the transitions once the detail arrives.
    state = wait_for(
        lambda: (s := chart_state(page))["draws"] and s["marks"] and s, timeout=15, what="the day's chart, marked"
    )
    assert state["error"] is None
    assert state["step"] == 120
    assert state["points"] == READINGS
    assert state["thresholds"] == [[1, 50.0, False], [2, 20.0, False], [3, 10.0, False]]
    assert state["marks"] == kinds
    assert state["inked"] > 1000, "the canvas stayed blank"
    assert state["width"] > 300
    assert level_one in state["labels"][0]
    assert opened in state["labels"][3]
    chart.scroll_into_view_if_needed()
    shoot(page, f"day-{locale}")

    chart.locator("[data-chart-range='7d']").click()
    expect(chart.locator("[data-chart-range='7d']")).to_have_text(week)
    expect(chart.locator("[data-chart-range='7d']")).to_have_attribute("aria-pressed", "true")
    week_state = wait_for(lambda: (s := chart_state(page))["draws"] > state["draws"] and s, timeout=15, what="the week")
    fifteen = {t.replace(minute=t.minute - t.minute % 15) for t in times}
    assert week_state["step"] == 900
    assert week_state["points"] == len(fifteen)
    assert week_state["marks"] == kinds
    shoot(page, f"week-{locale}")

    # On a 4K wall the panel is wider and zoomed (app.css): the chart follows its container.
    page.set_viewport_size({"width": 3840, "height": 2160})
    # Redrawn at the new size: wider, and more of the canvas inked.
    wait_for(
        lambda: (s := chart_state(page))["width"] > week_state["width"] * 1.3 and s["inked"] > week_state["inked"],
        timeout=10,
        what="the chart redrawn at the wall's size",
    )
    shoot(page, f"wall-{locale}")


def test_a_band_rule_draws_its_lower_thresholds_too(daphne_server, new_context, shoot):
    city = build_city()
    pressure = SensorTypeFactory(
        code="water-pressure", name="管网压力计", domain=city.sensor.sensor_type.domain, unit="MPa"
    )
    ThresholdRuleFactory(
        name="管网压力区间",
        sensor_type=pressure,
        direction=Direction.OUTSIDE,
        level3_threshold=1.0,
        level2_threshold=1.2,
        level1_threshold=1.5,
        level3_lower_threshold=0.4,
        level2_lower_threshold=0.3,
        level1_lower_threshold=0.2,
        dead_band=0.05,
    )
    sensor = SensorFactory(code="WP-0001", sensor_type=pressure, district=city.sensor.district)
    # A pressure drop: below Level III's 0.4, then Level II's 0.3.
    warning, _ = seed_a_day(sensor, quiet=0.6, rising=0.35, peak=0.25)
    page = new_context().new_page()
    log_in(page, daphne_server.url, "duty")
    page.goto(f"{daphne_server.url}/dashboard/")
    page.wait_for_function("() => window.citysafetyDashboard && window.echarts")
    page.evaluate(f"window.citysafetyDashboard.select({warning.pk}, {{fly: false}})")

    # The panel is drawn first from the list's row, then again with the warning's
    # transitions once its detail arrives: wait for the chart that marks them.
    state = wait_for(
        lambda: (s := chart_state(page))["draws"] and s["marks"] and s, timeout=15, what="the band's chart, marked"
    )
    assert state["thresholds"] == [
        [1, 1.5, False],
        [1, 0.2, True],
        [2, 1.2, False],
        [2, 0.3, True],
        [3, 1.0, False],
        [3, 0.4, True],
    ]
    assert "≤ 0.2" in state["labels"][1]
    assert state["marks"][:2] == ["opened", "escalated"]
    page.locator("[data-reading-chart]").scroll_into_view_if_needed()
    shoot(page, "band")
