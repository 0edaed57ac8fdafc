"""Late and back-filled readings: history is recorded as history, in reading order, and never dispatched.

The series is a pipeline's flow over three weeks, read at irregular
intervals (40 to 80 minutes apart), with three low-flow dips: one at
Level III, one that goes to Level II and on to Level I, one at Level III
again. It is posted as a gateway back online would post it (in order), out
of order, and after a current reading.
"""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch.models import WorkOrder
from monitoring.models import Reading, SensorState
from monitoring.services import readings_ingest, readings_record_stored
from organisation.models import DepartmentKind
from tests.factories import (
    DepartmentFactory,
    RiskDomainFactory,
    RoutingPolicyFactory,
    SensorFactory,
    SensorTypeFactory,
    ThresholdRuleFactory,
)
from warning import history, services
from warning.models import (
    Direction,
    RuleKind,
    RuleState,
    ThresholdRule,
    TransitionKind,
    Warning,
    WarningStatus,
    WarningTransition,
)

pytestmark = pytest.mark.django_db

NORMAL_FLOW = 60.0
# (level, values) of each dip; normal readings around them.
DIPS = [
    (3, [38.0, 36.5, 37.0]),
    (1, [33.0, 28.0, 17.0, 19.0, 26.0]),
    (3, [39.0, 35.0]),
]


def routed_sensor(gateway, *, code: str, **rule_fields):
    """A flow sensor whose every warning level routes to someone (a live warning would have work orders)."""
    water = RiskDomainFactory(code="water_supply", name="Water supply")
    flow = SensorTypeFactory(code=f"pipe-flow-{code}", name="Pipe flow", domain=water, unit="m³/h")
    rule = ThresholdRuleFactory(sensor_type=flow, **rule_fields)
    owner = DepartmentFactory(code="water-company", name="Water company", kind=DepartmentKind.ENTERPRISE)
    command = DepartmentFactory(code="command-office", name="Command office", kind=DepartmentKind.COMMAND_OFFICE)
    RoutingPolicyFactory(domain=water, level=3, include_sensor_owner=True, ack_deadline_minutes=30)
    RoutingPolicyFactory(domain=water, level=2, include_sensor_owner=True, ack_deadline_minutes=20)
    RoutingPolicyFactory(domain=water, level=1, departments=[command], ack_deadline_minutes=15)
    sensor = SensorFactory(code=code, sensor_type=flow, owner_department=owner, gateway=gateway)
    return sensor, rule


@pytest.fixture
def pipeline(gateway):
    return routed_sensor(
        gateway,
        code="FLOW-0001",
        name="Low flow",
        direction=Direction.BELOW,
        level3_threshold=40.0,
        level2_threshold=30.0,
        level1_threshold=20.0,
        dead_band=2.0,
    )


def three_weeks(*, ending_hours_ago: float = 2.0, seed: int = 9, dips=DIPS, noise: float = 5.0) -> list[tuple]:
    """(observed_at, value) every 40 to 80 minutes over three weeks, the dips spread out in it."""
    rng = random.Random(seed)
    end = timezone.now().replace(microsecond=0) - timedelta(hours=ending_hours_ago)
    at = end - timedelta(days=21)
    times = []
    while at <= end:
        times.append(at)
        at += timedelta(minutes=rng.randint(40, 80))
    values = [NORMAL_FLOW + rng.uniform(-noise, noise) for _ in times]
    # Each dip in the middle of its own week, so a week never cuts one in two.
    week = len(times) // 3
    for n, (_level, dip) in enumerate(dips):
        start = n * week + week // 2
        values[start : start + len(dip)] = dip
    return list(zip(times, values, strict=True))


def post(gateway, sensor, series, *, evaluate=True):
    """Post readings as the gateway does (batches of at most 1,000), then evaluate as the worker would."""
    items = [{"sensor": sensor.code, "observed_at": at.isoformat(), "value": value} for at, value in series]
    for start in range(0, len(items), 1000):
        result = readings_ingest(gateway=gateway, batch=items[start : start + 1000])
        assert result.errors == []
    if evaluate:
        while services.sensors_evaluate(sensor_ids=[sensor.pk]) or _behind(sensor):
            pass


def _behind(sensor) -> bool:
    return SensorState.objects.filter(sensor=sensor, unevaluated_since__isnull=False).exists()


def history_of(warning):
    return [(t.kind, t.from_level, t.to_level, t.observed_at) for t in warning.transitions.all()]


def expected_episodes(rule, series):
    points = [(n, at, value) for n, (at, value) in enumerate(series)]
    return [episode for episode in history.episodes(rule, points) if episode.ended]


def assert_recorded_as_history(sensor, rule, series):
    """Each dip is one closed historical warning, its transitions at its readings' times, in order."""
    warnings = list(Warning.objects.filter(sensor=sensor).order_by("opened_at"))
    episodes = expected_episodes(rule, series)
    assert [episode.level for episode in episodes] == [level for level, _ in DIPS]
    assert [(w.level, w.status, w.is_historical) for w in warnings] == [
        (level, WarningStatus.CLOSED, True) for level, _ in DIPS
    ]
    for warning, episode in zip(warnings, episodes, strict=True):
        assert warning.opened_at == episode.opened_at
        assert warning.recovered_at == episode.ended_at
        assert warning.peak_value == min(v for at, v in series if episode.opened_at <= at < episode.ended_at)
        transitions = history_of(warning)
        assert transitions == [(s.kind, s.from_level, s.to_level, s.observed_at) for s in episode.steps]
        times = [at for *_, at in transitions]
        assert times == sorted(times)
        assert transitions[-1][0] == TransitionKind.RECOVERED
    # The Level I dip went through Levels III and II first, and reads so.
    assert [kind for kind, *_ in history_of(warnings[1])] == ["opened", "escalated", "escalated", "recovered"]
    assert [to for _, _, to, _ in history_of(warnings[1])] == [3, 2, 1, 1]
    assert not WorkOrder.objects.exists()
    sensor.refresh_from_db()
    assert sensor.warning_level is None


def test_a_gateway_back_after_weeks_posts_in_order_and_each_dip_is_recorded_as_history(gateway, pipeline):
    sensor, rule = pipeline
    series = three_weeks()

    post(gateway, sensor, series)

    assert_recorded_as_history(sensor, rule, series)
    state = SensorState.objects.get(sensor=sensor)
    assert (state.latest_observed_at, state.latest_value) == series[-1]


def test_the_same_series_posted_out_of_order_is_recorded_the_same(gateway, pipeline):
    sensor, rule = pipeline
    series = three_weeks()
    week = len(series) // 3
    weeks = [series[:week], series[week : 2 * week], series[2 * week :]]
    rng = random.Random(3)
    for chunk in (weeks[2], weeks[0], weeks[1]):  # newest first, then the oldest, then the middle
        shuffled = chunk[:]
        rng.shuffle(shuffled)
        post(gateway, sensor, shuffled)

    assert_recorded_as_history(sensor, rule, series)
    state = SensorState.objects.get(sensor=sensor)
    assert (state.latest_observed_at, state.latest_value) == series[-1]


def test_a_series_back_filled_after_a_current_reading_is_history_and_sends_nothing(
    gateway, pipeline, django_capture_on_commit_callbacks
):
    sensor, rule = pipeline
    now = timezone.now().replace(microsecond=0)
    post(gateway, sensor, [(now, 58.0)])
    series = three_weeks()

    post(gateway, sensor, series, evaluate=False)
    with django_capture_on_commit_callbacks() as pushes:
        while services.sensors_evaluate(sensor_ids=[sensor.pk]) or _behind(sensor):
            pass

    assert_recorded_as_history(sensor, rule, series)
    assert pushes == []  # no live push, no value push: nothing on the duty screens
    state = SensorState.objects.get(sensor=sensor)
    assert (state.latest_observed_at, state.latest_value) == (now, 58.0)  # the current value stays


def test_a_back_fill_leaves_the_live_warning_and_its_latest_value_alone(gateway, pipeline):
    sensor, _rule = pipeline
    now = timezone.now().replace(microsecond=0)
    post(gateway, sensor, [(now - timedelta(minutes=10), 35.0), (now - timedelta(minutes=2), 33.0)])
    live = Warning.objects.get(sensor=sensor)
    orders = set(WorkOrder.objects.values_list("pk", flat=True))
    assert (live.level, live.status, len(orders)) == (3, WarningStatus.ACTIVE, 1)

    series = three_weeks()
    post(gateway, sensor, series)

    live.refresh_from_db()
    assert (live.level, live.status, live.is_historical) == (3, WarningStatus.ACTIVE, False)
    assert (live.last_value, live.last_observed_at) == (33.0, now - timedelta(minutes=2))
    assert set(WorkOrder.objects.values_list("pk", flat=True)) == orders
    historical = Warning.objects.filter(sensor=sensor, is_historical=True).order_by("opened_at")
    assert [w.level for w in historical] == [level for level, _ in DIPS]


def test_late_readings_of_an_event_read_opened_escalated_recovered_in_reading_order(gateway, pipeline):
    """The case of the issue: a current normal reading first, then the event's
    readings, the worst of them posted last."""
    sensor, _rule = pipeline
    now = timezone.now().replace(microsecond=0)
    post(gateway, sensor, [(now, 60.0)])
    times = [now - timedelta(hours=h) for h in (5, 4, 3, 2)]
    post(gateway, sensor, [(times[0], 35.0), (times[2], 61.0)])  # opened, then recovered
    post(gateway, sensor, [(times[1], 15.0), (times[3], 59.0)])  # the worst reading, between them

    warning = Warning.objects.get(sensor=sensor)  # one event, the Level I reading joined to it
    assert (warning.level, warning.status, warning.is_historical) == (1, WarningStatus.CLOSED, True)
    assert history_of(warning) == [
        ("opened", None, 3, times[0]),
        ("escalated", 3, 1, times[1]),
        ("recovered", 1, 1, times[2]),
    ]
    assert (warning.peak_value, warning.recovered_at) == (15.0, times[2])
    assert not WorkOrder.objects.exists()


def test_a_recent_episode_in_a_batch_is_still_live_and_dispatched(gateway, pipeline):
    sensor, _rule = pipeline
    now = timezone.now().replace(microsecond=0)
    # Over ten minutes ago, well within WARNING_HISTORICAL_AFTER_MINUTES: a duty officer must see it.
    post(gateway, sensor, [(now - timedelta(minutes=12), 35.0), (now - timedelta(minutes=10), 60.0)])

    warning = Warning.objects.get(sensor=sensor)
    assert (warning.status, warning.is_historical) == (WarningStatus.RECOVERED, False)
    assert WorkOrder.objects.filter(warning=warning).count() == 1


def test_an_episode_still_in_warning_at_the_end_of_a_back_fill_is_live(gateway, pipeline):
    sensor, _rule = pipeline
    series = three_weeks()
    ongoing = series[:-3] + [(at, 25.0) for at, _ in series[-3:]]  # the back-fill ends in a Level II dip

    post(gateway, sensor, ongoing)

    live = Warning.objects.exclude(status=WarningStatus.CLOSED).get(sensor=sensor)
    assert (live.level, live.status, live.is_historical) == (2, WarningStatus.ACTIVE, False)
    assert live.opened_at == ongoing[-3][0]
    assert WorkOrder.objects.filter(warning=live).exists()
    assert Warning.objects.filter(sensor=sensor, is_historical=True).count() == len(DIPS)


def test_a_late_episode_that_runs_into_the_open_warning_moves_its_start_back(gateway, pipeline):
    sensor, _rule = pipeline
    now = timezone.now().replace(microsecond=0)
    post(gateway, sensor, [(now - timedelta(minutes=20), 60.0), (now - timedelta(minutes=5), 35.0)])
    live = Warning.objects.get(sensor=sensor)

    # The gateway's buffer: the flow was already low, and worse, before.
    post(gateway, sensor, [(now - timedelta(minutes=15), 36.0), (now - timedelta(minutes=10), 25.0)])

    live.refresh_from_db()
    assert Warning.objects.filter(sensor=sensor).count() == 1
    assert (live.opened_at, live.first_value, live.level) == (now - timedelta(minutes=15), 36.0, 2)
    assert [(kind, to) for kind, _from, to, _at in history_of(live)] == [("opened", 3), ("escalated", 2)]
    assert [at for *_, at in history_of(live)] == [now - timedelta(minutes=15), now - timedelta(minutes=10)]
    assert (live.last_value, live.last_observed_at) == (35.0, now - timedelta(minutes=5))


def test_a_rule_added_to_a_sensor_with_history_does_not_replay_it(gateway, pipeline):
    sensor, rule = pipeline
    rule.is_active = False
    rule.save()
    post(gateway, sensor, three_weeks())  # evaluated with no rule: nothing to do, marks cleared
    assert not RuleState.objects.filter(sensor=sensor).exists()
    rule.is_active = True
    rule.save()

    post(gateway, sensor, [(timezone.now().replace(microsecond=0), 59.0)])

    assert not Warning.objects.filter(sensor=sensor).exists()
    state = RuleState.objects.get(sensor=sensor, rule=rule)
    assert state.last_reading_id == Reading.objects.filter(sensor=sensor).latest("id").pk


def test_a_new_rules_first_evaluation_sees_the_whole_back_fill_not_one_hour(pipeline):
    sensor, _rule = pipeline
    now = timezone.now()
    # Stored by other means (an archive), days old; no state for the rule yet.
    stored = Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=now - timedelta(days=3, minutes=m), value=v)
        for m, v in ((30, 60.0), (20, 25.0), (10, 60.0))
    )
    readings_record_stored(readings=stored)

    services.sensor_evaluate(sensor_id=sensor.pk)

    warning = Warning.objects.get(sensor=sensor)
    assert (warning.level, warning.is_historical) == (2, True)


def test_a_warnings_last_value_never_moves_back_when_its_rule_state_is_new(pipeline):
    """A rule switched off and on again loses its state; its open warning
    stays. A reading older than the warning's latest must not become it."""
    sensor, rule = pipeline
    now = timezone.now()
    store = [(now - timedelta(minutes=10), 35.0), (now - timedelta(minutes=5), 33.0)]
    readings_record_stored(
        readings=Reading.objects.bulk_create(Reading(sensor=sensor, observed_at=t, value=v) for t, v in store)
    )
    services.sensor_evaluate(sensor_id=sensor.pk)
    ThresholdRule.objects.filter(pk=rule.pk).update(is_active=False)
    readings_record_stored(
        readings=[Reading.objects.create(sensor=sensor, observed_at=now - timedelta(minutes=3), value=60.0)]
    )
    services.sensor_evaluate(sensor_id=sensor.pk)  # drops the state
    ThresholdRule.objects.filter(pk=rule.pk).update(is_active=True)

    late = Reading.objects.create(sensor=sensor, observed_at=now - timedelta(minutes=7), value=34.0)
    readings_record_stored(readings=[late])
    services.sensor_evaluate(sensor_id=sensor.pk)

    warning = Warning.objects.get(sensor=sensor)
    assert (warning.last_value, warning.last_observed_at) == (33.0, now - timedelta(minutes=5))


def test_transitions_read_in_reading_order_whenever_they_were_recorded(pipeline):
    sensor, rule = pipeline
    now = timezone.now()
    warning = Warning.objects.create(
        sensor=sensor,
        rule=rule,
        level=1,
        opened_at=now - timedelta(hours=3),
        first_value=35.0,
        last_value=60.0,
        peak_value=15.0,
        last_observed_at=now - timedelta(hours=1),
        status=WarningStatus.RECOVERED,
    )
    # Recorded in this order (the escalation found late), read in the readings' order.
    for kind, hours in (("opened", 3), ("recovered", 1), ("escalated", 2)):
        warning.transitions.create(kind=kind, to_level=1, observed_at=now - timedelta(hours=hours))
    warning.transitions.create(kind="closed", to_level=1, observed_at=None)

    assert [t.kind for t in warning.transitions.all()] == ["opened", "escalated", "recovered", "closed"]


def test_late_readings_of_a_warning_already_closed_join_it_instead_of_making_history_twice(
    gateway, pipeline, duty_officer
):
    sensor, _rule = pipeline
    now = timezone.now().replace(microsecond=0)
    post(gateway, sensor, [(now - timedelta(minutes=30), 35.0), (now - timedelta(minutes=10), 60.0)])
    warning = Warning.objects.get(sensor=sensor)
    services.warning_close(warning_id=warning.pk, user=duty_officer, note="Valve checked.")

    post(gateway, sensor, [(now - timedelta(minutes=20), 25.0)])  # from the gateway's buffer, inside that event

    assert list(Warning.objects.filter(sensor=sensor)) == [warning]
    warning.refresh_from_db()
    assert (warning.level, warning.peak_value, warning.status) == (2, 25.0, WarningStatus.CLOSED)
    assert [t.kind for t in warning.transitions.all()] == ["opened", "escalated", "recovered", "closed"]


def test_closing_reads_last_even_when_the_gateways_clock_runs_ahead(gateway, pipeline, duty_officer):
    sensor, _rule = pipeline
    ahead = timezone.now().replace(microsecond=0) + timedelta(minutes=4)  # within INGEST_MAX_FUTURE_SECONDS
    post(gateway, sensor, [(ahead - timedelta(minutes=1), 35.0), (ahead, 60.0)])
    warning = Warning.objects.get(sensor=sensor)

    services.warning_close(warning_id=warning.pk, user=duty_officer, note="Checked.")

    assert [t.kind for t in warning.transitions.all()] == ["opened", "recovered", "closed"]


def test_the_api_and_the_closed_list_mark_a_historical_warning(client, gateway, pipeline, duty_officer):
    sensor, _rule = pipeline
    now = timezone.now().replace(microsecond=0)
    post(gateway, sensor, [(now, 60.0)])
    times = [now - timedelta(hours=h) for h in (4, 3, 2)]
    post(gateway, sensor, [(times[0], 35.0), (times[1], 15.0), (times[2], 61.0)])
    warning = Warning.objects.get(sensor=sensor)
    client.force_login(duty_officer)

    detail = client.get(f"/api/v1/warnings/{warning.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
    listed = client.get("/api/v1/warnings/?status=closed", HTTP_ACCEPT_LANGUAGE="en").json()
    page = client.get("/warnings/closed/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert detail["is_historical"] is True
    assert [(t["kind"], t["observed_at"][:19]) for t in detail["transitions"]] == [
        (kind, timezone.localtime(at).isoformat()[:19])
        for kind, at in zip(("opened", "escalated", "recovered"), times, strict=True)
    ]
    assert [row["is_historical"] for row in listed["results"]] == [True]
    assert f'<tr data-warning="{warning.pk}">' in page
    assert 'data-historical title="Found among late or back-filled readings' in page


# --- Duration and rate rules --------------------------------------------------------------
# The same three weeks under rules with semantics of their own. A duration
# rule (two readings in a row) lets a lone low reading pass and opens at the
# second reading of a run; a rate rule warns on the fall from the highest
# reading of its window (four hours), whatever the flow itself is.

HELD = {
    "name": "Low flow, held",
    "direction": Direction.BELOW,
    "level3_threshold": 40.0,
    "level2_threshold": 30.0,
    "level1_threshold": 20.0,
    "dead_band": 2.0,
    "hold_readings": 2,
}
HELD_DIPS = [
    (None, [25.0]),  # one reading at Level II: a plain threshold would warn, a held rule does not
    (3, [38.0, 36.5, 37.0]),
    (1, [33.0, 28.0, 17.0, 19.0, 26.0]),
]
FALL = {
    "name": "Flow falling",
    "kind": RuleKind.RATE,
    "direction": Direction.BELOW,
    "level3_threshold": 15.0,
    "level2_threshold": 25.0,
    "level1_threshold": 35.0,
    "dead_band": 2.0,
    "rate_window_seconds": 4 * 3600,
}
# Around a steady 60 (± 1), readings 40 to 80 minutes apart: a dip's third
# reading is at most four hours after the last steady one, so every dip
# reading falls from about 60, and the steady reading after a dip falls
# from nothing.
FALL_DIPS = [
    (3, [42.0]),
    (1, [42.0, 30.0, 20.0]),
    (3, [43.0, 44.0]),
]


def dip_starts(series) -> list[int]:
    week = len(series) // 3
    return [n * week + week // 2 for n in range(3)]


def held_expected(series):
    """The transitions each historical warning of the held rule must read."""
    _blip, b, c = dip_starts(series)
    t = [at for at, _value in series]
    return [
        [("opened", None, 3, t[b + 1]), ("recovered", 3, 3, t[b + 3])],
        [
            ("opened", None, 3, t[c + 1]),  # 33 then 28: Level III has held for two readings
            ("escalated", 3, 2, t[c + 2]),  # 28 then 17: Level II has
            ("escalated", 2, 1, t[c + 3]),  # 17 then 19: Level I has
            ("recovered", 1, 1, t[c + 5]),
        ],
    ]


def fall_expected(series):
    """The transitions each historical warning of the rate rule must read."""
    a, b, c = dip_starts(series)
    t = [at for at, _value in series]
    return [
        [("opened", None, 3, t[a]), ("recovered", 3, 3, t[a + 1])],
        [
            ("opened", None, 3, t[b]),
            ("escalated", 3, 2, t[b + 1]),
            ("escalated", 2, 1, t[b + 2]),
            ("recovered", 1, 1, t[b + 3]),
        ],
        [("opened", None, 3, t[c]), ("recovered", 3, 3, t[c + 2])],
    ]


def fall_at(series, index: int) -> float:
    """The fall at a reading: the highest reading of its window (itself included) less its own value."""
    at, value = series[index]
    window = timedelta(seconds=FALL["rate_window_seconds"])
    return max(v for t, v in series if at - window <= t <= at) - value


RULE_KINDS = {"held": (HELD, HELD_DIPS, 5.0, held_expected), "fall": (FALL, FALL_DIPS, 1.0, fall_expected)}


@pytest.fixture(params=sorted(RULE_KINDS))
def rule_kind_case(request, gateway):
    """(sensor, rule, three weeks of readings, the transitions of each historical warning), per rule kind."""
    fields, dips, noise, expected = RULE_KINDS[request.param]
    sensor, rule = routed_sensor(gateway, code=f"FLOW-{request.param.upper()}", **fields)
    series = three_weeks(dips=dips, noise=noise)
    return sensor, rule, series, expected(series)


def assert_history_reads(sensor, rule, series, expected):
    """The sensor's historical warnings read ``expected``, in reading order, and were never dispatched."""
    historical = list(Warning.objects.filter(sensor=sensor, is_historical=True).order_by("opened_at"))
    assert [history_of(w) for w in historical] == expected
    for warning, steps in zip(historical, expected, strict=True):
        assert (warning.status, warning.level) == (WarningStatus.CLOSED, steps[-1][2])
        assert (warning.opened_at, warning.recovered_at) == (steps[0][3], steps[-1][3])
    if rule.kind == RuleKind.RATE:
        # The change at each reading's time, over the stored readings of its window.
        deepest = dip_starts(series)[1] + 2
        assert historical[1].peak_value == pytest.approx(fall_at(series, deepest))
        assert historical[1].peak_value > 35.0
    else:
        assert historical[1].peak_value == 17.0
    assert not WorkOrder.objects.filter(warning__in=historical).exists()


def live_snapshot(sensor):
    """What the duty officers' side holds: open warnings as they stand, their transitions, work orders, runs."""
    live = [
        (w.pk, w.level, w.status, w.opened_at, w.last_value, w.last_observed_at, w.peak_value, history_of(w))
        for w in Warning.objects.filter(sensor=sensor, is_historical=False).order_by("pk")
    ]
    orders = sorted(WorkOrder.objects.values_list("pk", "warning_id", "status"))
    return live, orders, RuleState.objects.get(sensor=sensor).hold_progress


def test_a_duration_or_rate_rules_back_fill_posted_in_order_is_history_by_the_rules_own_semantics(
    gateway, rule_kind_case
):
    sensor, rule, series, expected = rule_kind_case

    post(gateway, sensor, series)

    assert_history_reads(sensor, rule, series, expected)
    assert not Warning.objects.filter(sensor=sensor, is_historical=False).exists()
    assert not WorkOrder.objects.exists()
    sensor.refresh_from_db()
    assert sensor.warning_level is None
    assert not RuleState.objects.get(sensor=sensor).hold_progress  # it ended normal: no run goes on


def test_a_duration_or_rate_rules_back_fill_posted_out_of_order_is_recorded_the_same(gateway, rule_kind_case):
    sensor, rule, series, expected = rule_kind_case
    week = len(series) // 3
    weeks = [series[:week], series[week : 2 * week], series[2 * week :]]
    rng = random.Random(3)
    for chunk in (weeks[2], weeks[0], weeks[1]):  # newest first, then the oldest, then the middle
        shuffled = chunk[:]
        rng.shuffle(shuffled)
        post(gateway, sensor, shuffled)

    assert_history_reads(sensor, rule, series, expected)
    assert not Warning.objects.filter(sensor=sensor, is_historical=False).exists()
    assert not WorkOrder.objects.exists()


def test_a_duration_or_rate_rules_back_fill_after_a_live_warning_is_history_and_leaves_it_alone(
    gateway, rule_kind_case, django_capture_on_commit_callbacks
):
    sensor, rule, series, expected = rule_kind_case
    now = timezone.now().replace(microsecond=0)
    post(gateway, sensor, [(now - timedelta(minutes=9), 60.0), (now - timedelta(minutes=6), 38.0)])
    post(gateway, sensor, [(now - timedelta(minutes=3), 37.0)])
    before = live_snapshot(sensor)
    live, orders, progress = before
    assert [(level, status) for _pk, level, status, *_rest in live] == [(3, WarningStatus.ACTIVE)]
    assert len(orders) == 1
    assert bool(progress) == rule.holds  # a held rule's runs go on while it is in warning

    post(gateway, sensor, series, evaluate=False)
    with django_capture_on_commit_callbacks() as pushes:
        while services.sensors_evaluate(sensor_ids=[sensor.pk]) or _behind(sensor):
            pass

    assert_history_reads(sensor, rule, series, expected)
    assert live_snapshot(sensor) == before
    assert pushes == []
    state = SensorState.objects.get(sensor=sensor)
    assert (state.latest_observed_at, state.latest_value) == (now - timedelta(minutes=3), 37.0)

    # The same batch again: every reading a duplicate, nothing evaluated, nothing recorded twice.
    recorded = sorted(WarningTransition.objects.values_list("pk", flat=True))
    post(gateway, sensor, series, evaluate=False)
    assert services.sensors_evaluate(sensor_ids=[sensor.pk]) == 0
    assert sorted(WarningTransition.objects.values_list("pk", flat=True)) == recorded
    assert live_snapshot(sensor) == before


def test_a_run_still_going_at_the_end_of_a_back_fill_carries_on_into_the_live_readings(gateway):
    sensor, _rule = routed_sensor(gateway, code="FLOW-HELD", **HELD)
    series = three_weeks(dips=HELD_DIPS)
    # The back-fill ends in a dip (33, 28), back to normal (61), then one low reading.
    times = [at for at, _value in series[-4:]]
    series = series[:-4] + list(zip(times, [33.0, 28.0, 61.0, 35.0], strict=True))

    post(gateway, sensor, series)

    last = Warning.objects.filter(sensor=sensor).latest("opened_at")
    assert (last.is_historical, last.opened_at, last.recovered_at) == (True, times[1], times[2])
    assert not Warning.objects.filter(sensor=sensor, is_historical=False).exists()
    # The dip's runs ended with it: only the last low reading runs, once.
    progress = RuleState.objects.get(sensor=sensor).hold_progress
    assert progress == {"3": {"since": times[3].isoformat(), "count": 1}}

    now = timezone.now().replace(microsecond=0)
    post(gateway, sensor, [(now, 34.0)])  # the second low reading in a row: the hold is complete

    live = Warning.objects.get(sensor=sensor, is_historical=False)
    assert (live.level, live.status, live.opened_at) == (3, WarningStatus.ACTIVE, now)
    assert WorkOrder.objects.filter(warning=live).count() == 1


def test_a_held_episode_of_the_past_leaves_the_recovered_live_warning_alone_from_its_runs_first_reading(gateway):
    sensor, _rule = routed_sensor(gateway, code="FLOW-HELD", **HELD)
    start = timezone.now().replace(microsecond=0) - timedelta(days=3)

    def at(minutes):
        return start + timedelta(minutes=minutes)

    # Before the gateway went offline: in warning (live, dispatched), then recovered.
    post(gateway, sensor, [(at(0), 38.0), (at(50), 37.0)])
    post(gateway, sensor, [(at(100), 60.0)])
    live = Warning.objects.get(sensor=sensor)
    assert (live.status, live.is_historical, live.peak_value) == (WarningStatus.RECOVERED, False, 37.0)
    transitions = history_of(live)

    # Back after days, in order: a run from 33 that held from 28 on, over long ago.
    post(gateway, sensor, [(at(160), 61.0), (at(210), 33.0), (at(270), 28.0), (at(320), 61.0), (at(390), 59.0)])

    past = Warning.objects.get(sensor=sensor, is_historical=True)
    assert history_of(past) == [("opened", None, 3, at(270)), ("recovered", 3, 3, at(320))]
    live.refresh_from_db()
    # 33 is the past event's, not the live warning's: its peak stays.
    assert (live.status, live.level, live.peak_value) == (WarningStatus.RECOVERED, 3, 37.0)
    assert (live.last_value, live.last_observed_at) == (59.0, at(390))
    assert history_of(live) == transitions
    assert WorkOrder.objects.filter(warning=past).count() == 0


def test_a_held_rules_episodes_go_on_from_the_runs_given_and_leave_them_as_they_were():
    rule = ThresholdRule(**{**HELD, "name": "Held"})
    at = timezone.now() - timedelta(days=1)
    progress = {"3": {"since": at.isoformat(), "count": 1}}
    points = [(1, at + timedelta(hours=1), 35.0), (2, at + timedelta(hours=2), 61.0)]

    found = history.episodes(rule, points, progress=progress)

    assert [(e.opened_at, e.held_since, e.ended_at) for e in found] == [(points[0][1], at, points[1][1])]
    assert progress == {"3": {"since": at.isoformat(), "count": 1}}
    assert history.episodes(rule, points) == []  # without the run, one low reading has not held


def test_a_held_episode_still_low_at_its_last_late_reading_ends_at_the_next_stored_one_if_normal(gateway):
    sensor, _rule = routed_sensor(gateway, code="FLOW-HELD", **HELD)
    start = timezone.now().replace(microsecond=0) - timedelta(days=2)

    def at(minutes):
        return start + timedelta(minutes=minutes)

    post(gateway, sensor, [(at(300), 60.0), (at(360), 61.0)])
    post(gateway, sensor, [(at(0), 60.0), (at(60), 33.0), (at(120), 28.0), (at(180), 17.0)])  # late

    past = Warning.objects.get(sensor=sensor)
    assert past.is_historical
    assert history_of(past) == [
        ("opened", None, 3, at(120)),
        ("escalated", 3, 2, at(180)),
        ("recovered", 2, 2, at(300)),
    ]
    assert not WorkOrder.objects.exists()


def test_late_readings_of_a_held_rule_inside_a_recorded_event_record_it_no_second_time(gateway):
    sensor, _rule = routed_sensor(gateway, code="FLOW-HELD", **HELD)
    start = timezone.now().replace(microsecond=0) - timedelta(days=2)

    def at(minutes):
        return start + timedelta(minutes=minutes)

    post(gateway, sensor, [(at(0), 60.0), (at(60), 33.0), (at(120), 28.0), (at(180), 61.0), (at(240), 60.0)])
    past = Warning.objects.get(sensor=sensor)
    assert (past.is_historical, past.opened_at, past.recovered_at) == (True, at(120), at(180))

    post(gateway, sensor, [(at(130), 25.0), (at(140), 24.0)])  # the gateway's buffer, inside that event

    assert list(Warning.objects.filter(sensor=sensor)) == [past]
    assert not WorkOrder.objects.exists()
