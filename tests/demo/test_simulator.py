"""The reading simulator: normal days, incidents, batches, and posting to a real HTTP server."""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.core.management import CommandError, call_command

from demo.catalogue import SENSOR_TYPES
from demo.simulator import (
    LOCAL_TZ,
    PROFILES,
    SCENARIOS,
    IncidentKind,
    Poster,
    Scenario,
    SimSensor,
    Simulation,
    chunked,
    incident_trajectory,
    normal_value,
    post_readings,
    reading_item,
    run_rounds,
    sensor_bias,
)
from warning.evaluation import NORMAL, classify
from warning.models import Direction, ThresholdRule

RULES = {spec.code: spec.rule for spec in SENSOR_TYPES}
UNITS = {spec.code: spec.unit for spec in SENSOR_TYPES}
MIDNIGHT = datetime(2026, 7, 15, tzinfo=LOCAL_TZ)


def whole_day(step_minutes: int = 5) -> Iterator[datetime]:
    for minute in range(0, 24 * 60, step_minutes):
        yield MIDNIGHT + timedelta(minutes=minute)


def level_of(rule: ThresholdRule, value: float) -> int | None:
    """The level the platform's evaluation opens or escalates to; None: normal."""
    return classify(rule, value, in_warning=False) or None


def recovers(rule: ThresholdRule, value: float) -> bool:
    """Whether the platform's evaluation recovers a warning in force at this value."""
    return classify(rule, value, in_warning=True) == NORMAL


def severity(level: int | None) -> int:
    """0 when normal, 1 for Level III … 3 for Level I: bigger is worse."""
    return 0 if level is None else 4 - level


def sim_sensor(code: str, type_code: str, gateway: str = "gw-test") -> SimSensor:
    return SimSensor(code, type_code, gateway, UNITS[type_code], RULES[type_code])


# --- Normal days ------------------------------------------------------------


def test_every_demo_sensor_type_has_a_profile():
    assert set(PROFILES) == {spec.code for spec in SENSOR_TYPES}


@pytest.mark.parametrize("type_code", [spec.code for spec in SENSOR_TYPES])
def test_normal_values_stay_inside_level_iii_all_day(type_code):
    profile, rule = PROFILES[type_code], RULES[type_code]
    rng = random.Random(7)
    # The sensors furthest from the base, and one in the middle.
    for bias in (-profile.spread, 0.0, profile.spread):
        for at in whole_day():
            value = normal_value(profile, at, bias, rng)

            assert level_of(rule, value) is None, (type_code, at, value)
            # Inside by the dead band too, so a recovered warning stays recovered.
            assert recovers(rule, value), (type_code, at, value)


def test_water_pressure_dips_at_the_morning_and_evening_peaks():
    profile = PROFILES["water-pressure"]
    rng = random.Random(1)

    def mean_at(hour: float) -> float:
        at = MIDNIGHT + timedelta(hours=hour)
        return sum(normal_value(profile, at, 0.0, rng) for _ in range(50)) / 50

    night = mean_at(3)
    assert mean_at(7.5) < night - 0.03
    assert mean_at(19) < night - 0.03


def test_the_daily_cycle_follows_shanghai_time_whatever_the_zone_given():
    profile = PROFILES["water-pressure"]
    local = MIDNIGHT + timedelta(hours=7, minutes=30)

    in_utc = normal_value(profile, local.astimezone(UTC), 0.0, random.Random(3))

    assert in_utc == normal_value(profile, local, 0.0, random.Random(3))


def test_sensors_of_one_type_differ_but_each_keeps_its_bias():
    spread = PROFILES["gas-methane"].spread
    biases = {sensor_bias(f"GAS-{n:04d}", spread) for n in range(1, 50)}

    assert len(biases) > 40
    assert all(-spread <= b <= spread for b in biases)
    assert sensor_bias("GAS-0001", spread) == sensor_bias("GAS-0001", spread)


# --- Incidents --------------------------------------------------------------


def assert_crosses_each_level_in_order_and_recovers(values: list[float], rule: ThresholdRule) -> None:
    levels = [level_of(rule, v) for v in values]
    worst_so_far = 0
    peak_index = levels.index(1)
    for index, level in enumerate(levels[: peak_index + 1]):
        # Rising, a value is never more than one level worse than the worst
        # before it: Level III, then II, then I, none skipped.
        assert severity(level) <= worst_so_far + 1, (index, values)
        worst_so_far = max(worst_so_far, severity(level))
    falling = [severity(level) for level in levels[peak_index:]]
    assert falling == sorted(falling, reverse=True), values
    assert levels.index(3) < levels.index(2) < levels.index(1)
    assert levels[0] is None
    assert recovers(rule, values[-2])
    assert recovers(rule, values[-1])


@pytest.mark.parametrize("kind", list(IncidentKind))
@pytest.mark.parametrize("seed", range(5))
def test_each_incident_crosses_level_iii_ii_and_i_in_order_then_recovers(kind, seed):
    scenario = SCENARIOS[kind]
    rule = RULES[scenario.sensor_type]
    profile = PROFILES[scenario.sensor_type]
    rng = random.Random(seed)
    start = normal_value(profile, MIDNIGHT, 0.0, rng)

    values = incident_trajectory(rule, start, scenario, rng)

    assert_crosses_each_level_in_order_and_recovers([start, *values], rule)
    assert values[-1] == start


def test_the_incidents_play_on_the_sensors_of_the_seeded_scenarios():
    assert SCENARIOS[IncidentKind.GAS_LEAK].sensor_type == "gas-methane"
    assert SCENARIOS[IncidentKind.PIPE_BURST].sensor_type == "water-pressure"
    assert RULES["water-pressure"].direction == Direction.BELOW  # a burst is a pressure drop
    assert SCENARIOS[IncidentKind.RIVER_RISING].sensor_type == "river-level"


@pytest.mark.parametrize(
    ("direction", "level3", "level2", "level1", "dead_band"),
    [
        (Direction.ABOVE, 1.0, 1.5, 3.0, 0.2),
        (Direction.BELOW, -5.0, -10.0, -12.0, 1.0),
        (Direction.BELOW, 50.0, 40.0, 10.0, 0.0),
    ],
)
def test_an_incident_crosses_the_levels_of_any_rule(direction, level3, level2, level1, dead_band):
    rule = ThresholdRule(
        direction=direction,
        level3_threshold=level3,
        level2_threshold=level2,
        level1_threshold=level1,
        dead_band=dead_band,
    )
    start = level3 - 2 if direction == Direction.ABOVE else level3 + 3
    scenario = Scenario("any", onset=2, hold=1, peak=1, recede=1)

    values = incident_trajectory(rule, start, scenario, random.Random(0))

    assert_crosses_each_level_in_order_and_recovers([start, *values], rule)


def test_a_simulation_plays_an_incident_round_by_round_then_returns_to_normal():
    sensors = [sim_sensor(f"GAS-{n:04d}", "gas-methane") for n in range(1, 6)]
    sensors.append(sim_sensor("WSP-0001", "water-pressure", "gw-water"))
    simulation = Simulation(sensors, rng=random.Random(4))
    incident = simulation.start_incident(IncidentKind.GAS_LEAK, MIDNIGHT)
    rule = RULES["gas-methane"]
    played, others, events = [], [], []

    at = MIDNIGHT
    while not simulation.idle:
        output = simulation.round(at)
        events += [str(e) for e in output.events]
        for item in output.items_by_gateway["gw-test"]:
            (played if item["sensor"] == incident.sensor.code else others).append(item["value"])
        at += timedelta(seconds=10)
    after = simulation.round(at).items_by_gateway

    assert played == incident.values
    assert_crosses_each_level_in_order_and_recovers(played, rule)
    assert all(level_of(rule, v) is None for v in others)
    assert events[0].startswith(f"incident gas_leak started at {incident.sensor.code}")
    assert [e.split(": ")[1].split(" (")[0] for e in events if ": Level" in e][:3] == [
        "Level III",
        "Level II",
        "Level I",
    ]
    assert events[-1].startswith(f"incident gas_leak at {incident.sensor.code} ended")
    assert all(level_of(rule, i["value"]) is None for i in after["gw-test"])


def test_periodic_incidents_start_every_interval_on_a_sensor_of_the_right_type():
    sensors = [sim_sensor("RIV-0001", "river-level"), sim_sensor("GAS-0001", "gas-methane")]
    simulation = Simulation(
        sensors, rng=random.Random(2), incident_every=60, incident_kinds=[IncidentKind.RIVER_RISING]
    )
    started = []

    for second in range(0, 130, 10):
        output = simulation.round(MIDNIGHT + timedelta(seconds=second))
        started += [second for e in output.events if e.what == "started"]

    assert started == [60]
    assert list(simulation.incidents) == ["RIV-0001"]


def test_an_incident_needs_a_sensor_with_a_threshold_rule():
    bare = SimSensor("WSP-0001", "water-pressure", "gw-water", "MPa", rule=None)
    simulation = Simulation([bare], rng=random.Random(0))

    assert simulation.start_incident(IncidentKind.PIPE_BURST, MIDNIGHT) is None
    assert simulation.start_incident(IncidentKind.GAS_LEAK, MIDNIGHT) is None


# --- Batches ----------------------------------------------------------------


def test_readings_carry_zone_aware_iso_timestamps():
    at = datetime(2026, 7, 15, 0, 30, tzinfo=UTC)

    item = reading_item("GAS-0001", at, 1.25)

    parsed = datetime.fromisoformat(item["observed_at"])
    assert parsed.utcoffset() == timedelta(hours=8)
    assert parsed == at
    assert item == {"sensor": "GAS-0001", "observed_at": "2026-07-15T08:30:00+08:00", "value": 1.25}


def test_batches_are_chunked_to_at_most_the_size_given():
    items = [{"sensor": f"S{n}"} for n in range(2001)]

    chunks = list(chunked(items, 1000))

    assert [len(c) for c in chunks] == [1000, 1000, 1]
    assert [i for c in chunks for i in c] == items
    assert list(chunked([], 1000)) == []


def test_a_round_groups_every_sensor_by_gateway():
    sensors = [sim_sensor("GAS-0001", "gas-methane", "gw-gas"), sim_sensor("WSP-0001", "water-pressure", "gw-water")]
    sensors.append(SimSensor("X-1", "no-such-type", "gw-gas"))

    output = Simulation(sensors, rng=random.Random(0)).round(MIDNIGHT)

    assert {g: [i["sensor"] for i in items] for g, items in output.items_by_gateway.items()} == {
        "gw-gas": ["GAS-0001"],
        "gw-water": ["WSP-0001"],
    }


# --- Posting over HTTP -------------------------------------------------------


def test_each_gateway_posts_once_per_round_with_its_own_token(stub_api):
    items = {"gw-gas": [reading_item("GAS-0001", MIDNIGHT, 1.0)], "gw-water": [reading_item("WSP-0001", MIDNIGHT, 0.3)]}
    with requests.Session() as session:
        poster = Poster(session, stub_api.url + "/", {"gw-gas": "gas-token", "gw-water": "water-token"})

        report = poster.post_round(items)

    assert [(r["path"], r["authorization"], r["body"]) for r in stub_api.requests] == [
        ("/api/v1/readings/", "Bearer gas-token", items["gw-gas"]),
        ("/api/v1/readings/", "Bearer water-token", items["gw-water"]),
    ]
    assert str(report) == "accepted 2, duplicates 0, errors 0"


@pytest.mark.parametrize(("max_batch", "sizes"), [(1000, [1000, 1000, 500]), (1200, [1200, 1200, 100])])
def test_a_big_gateway_posts_chunks_no_larger_than_the_api_accepts(stub_api, settings, max_batch, sizes):
    settings.INGEST_MAX_BATCH = max_batch
    items = [reading_item(f"GAS-{n:04d}", MIDNIGHT, 0.5) for n in range(2500)]
    with requests.Session() as session:
        report = Poster(session, stub_api.url, {"gw-gas": "t"}).post_round({"gw-gas": items})

    assert [len(r["body"]) for r in stub_api.requests] == sizes
    assert [i for r in stub_api.requests for i in r["body"]] == items
    assert report.accepted == 2500


def test_invalid_items_are_reported_by_sensor_and_not_sent_again(stub_api):
    items = [reading_item("GAS-0001", MIDNIGHT, 1.0), reading_item("GAS-9999", MIDNIGHT, 1.0)]
    stub_api.replies.append(
        (422, {"accepted": 1, "duplicates": 0, "errors": [{"index": 1, "field": "sensor", "message": "unknown"}]})
    )
    with requests.Session() as session:
        poster = Poster(session, stub_api.url, {"gw-gas": "t"})
        report = poster.post_round({"gw-gas": items})
        poster.post_round({"gw-gas": []})

    assert str(report) == "accepted 1, duplicates 0, errors 1; e.g. GAS-9999 sensor: unknown"
    assert [len(r["body"]) for r in stub_api.requests] == [2]
    assert poster.backlog == {}


def test_a_batch_the_server_could_not_store_is_sent_again_next_round(stub_api):
    first = [reading_item("GAS-0001", MIDNIGHT, 1.0)]
    second = [reading_item("GAS-0001", MIDNIGHT + timedelta(seconds=10), 1.1)]
    stub_api.replies.append((503, {"detail": "The database is unavailable; try again shortly."}))
    with requests.Session() as session:
        poster = Poster(session, stub_api.url, {"gw-gas": "t"})
        failed = poster.post_round({"gw-gas": first})
        retried = poster.post_round({"gw-gas": second})

    assert "gw-gas: HTTP 503: The database is unavailable" in str(failed)
    assert "1 readings kept for the next round" in str(failed)
    assert stub_api.requests[1]["body"] == first + second
    assert retried.accepted == 2


def test_a_rejected_token_is_reported_and_not_retried(stub_api):
    stub_api.replies.append((401, {"detail": "Invalid gateway token."}))
    with requests.Session() as session:
        poster = Poster(session, stub_api.url, {"gw-gas": "old"})
        report = poster.post_round({"gw-gas": [reading_item("GAS-0001", MIDNIGHT, 1.0)]})

    assert "gw-gas: HTTP 401: Invalid gateway token. (token rejected" in str(report)
    assert poster.backlog == {}


def test_a_rejected_token_is_replaced_and_the_readings_go_again(stub_api):
    stub_api.replies.append((401, {"detail": "Unknown gateway token."}))
    items = [reading_item("GAS-0001", MIDNIGHT, 1.0)]
    with requests.Session() as session:
        poster = Poster(session, stub_api.url, {"gw-gas": "old"}, reissue=lambda code: f"new-{code}")
        report = poster.post_round({"gw-gas": items})
        poster.post_round({"gw-gas": []})

    assert "a new one was issued" in str(report)
    assert poster.tokens == {"gw-gas": "new-gw-gas"}
    assert stub_api.requests[1]["body"] == items
    assert stub_api.requests[1]["authorization"] == "Bearer new-gw-gas"


def test_a_server_that_is_down_is_survived(closed_port_url):
    items = [reading_item("GAS-0001", MIDNIGHT, 1.0)]
    with requests.Session() as session:
        result = post_readings(session, closed_port_url, "t", items)
        poster = Poster(session, closed_port_url, {"gw-gas": "t", "gw-water": "t"})
        report = poster.post_round({"gw-gas": items, "gw-water": items})

    assert result.status is None
    assert result.retry
    assert str(report) == (
        "accepted 0, duplicates 0, errors 0; gw-gas, gw-water: cannot connect (is the server running?); "
        "2 readings kept for the next round"
    )


def test_a_reply_that_is_not_json_is_a_problem_not_a_crash(stub_api):
    stub_api.replies.append((502, "<html>Bad gateway</html>"))
    with requests.Session() as session:
        result = post_readings(session, stub_api.url + "/api/v1/readings/", "t", [])

    assert result.status == 502
    assert result.problem == "HTTP 502, not a JSON object"
    assert result.retry


def test_rounds_run_on_the_interval_until_the_incident_has_played(stub_api):
    sensors = [sim_sensor("GAS-0001", "gas-methane")]
    simulation = Simulation(sensors, rng=random.Random(5))
    incident = simulation.start_incident(IncidentKind.GAS_LEAK, MIDNIGHT)
    now = [MIDNIGHT]
    lines: list[str] = []

    def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    with requests.Session() as session:
        done = run_rounds(
            simulation,
            Poster(session, stub_api.url, {"gw-test": "t"}),
            clock=lambda: now[0],
            sleep=sleep,
            interval=10,
            write=lines.append,
            until_idle=True,
        )

    assert done == len(incident.values)
    stamps = [r["body"][0]["observed_at"] for r in stub_api.requests]
    assert stamps[:2] == ["2026-07-15T00:00:00+08:00", "2026-07-15T00:00:10+08:00"]
    assert (
        lines[-1]
        == f"round {done} at 00:{(done - 1) // 6:02d}:{(done - 1) % 6 * 10:02d}: accepted 1, duplicates 0, errors 0"
    )
    assert any("Level I " in line for line in lines)


@pytest.mark.django_db
def test_simulate_readings_asks_for_the_demo_city_first():
    with pytest.raises(CommandError, match="load_demo_city"):
        call_command("simulate_readings", once=True)


def test_simulate_readings_refuses_sub_second_rounds():
    with pytest.raises(CommandError, match="at least 1 second"):
        call_command("simulate_readings", interval=0.5)
