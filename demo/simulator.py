"""Simulated readings for the demo city, posted through the public ingest API.

The value models, incident scenarios, batching and HTTP posting are plain
functions and small classes; ``simulate_readings`` only wires them to the
clock, the database (for tokens and sensors) and a ``requests.Session``.
"""

import math
import random
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

import requests
from django.conf import settings

from monitoring.models import Gateway, Sensor
from monitoring.services import gateway_issue_token
from warning.evaluation import classify, recovery_limit, value_at_level
from warning.models import ThresholdRule
from warning.selectors import rules_for_sensors

# Daily cycles follow the city's clock, whatever zone the caller uses.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# Readings kept for re-sending after a failed post (connection refused, 5xx):
# about eight rounds of the busiest demo gateway.
BACKLOG_LIMIT = 2000


# --- Levels -----------------------------------------------------------------


def level_reached(rule: ThresholdRule, value: float) -> int | None:
    """The level the platform's evaluation gives the value (None: normal)."""
    return classify(rule, value, in_warning=False) or None


# --- Normal values ----------------------------------------------------------


def _bump(hour: float, centre: float, width: float) -> float:
    """A Gaussian bump on the 24-hour circle, 1.0 at ``centre``."""
    distance = min(abs(hour - centre), 24 - abs(hour - centre))
    return math.exp(-((distance / width) ** 2))


def demand_cycle(hour: float) -> float:
    """Water and gas use: morning and evening peaks, quiet at night (0..1)."""
    return min(1.0, _bump(hour, 7.5, 1.5) + 0.9 * _bump(hour, 19.0, 2.0) + 0.3 * _bump(hour, 12.0, 1.5))


def traffic_cycle(hour: float) -> float:
    """Bridge load: rush hours on top of daytime traffic (0..1)."""
    return min(1.0, 0.4 * _bump(hour, 13.0, 5.0) + 0.7 * _bump(hour, 8.0, 1.2) + 0.7 * _bump(hour, 18.0, 1.5))


def air_temperature_cycle(hour: float) -> float:
    """Warmest mid-afternoon, coolest before dawn (-1..1)."""
    return math.cos(2 * math.pi * (hour - 15.0) / 24)


def heating_cycle(hour: float) -> float:
    """Supply temperature is raised in the cold night and morning (-1..1)."""
    return -air_temperature_cycle(hour)


def shower_cycle(hour: float) -> float:
    """Light afternoon showers, dry the rest of the day (0..1)."""
    return _bump(hour, 16.0, 2.0)


def flat_cycle(hour: float) -> float:
    return 0.0


@dataclass(frozen=True)
class Profile:
    """A sensor type's normal behaviour.

    value = base + amplitude * cycle(local hour) + sensor bias + noise, where
    the bias is fixed per sensor (within ±spread) and the noise is bounded
    (triangular within ±noise), so the normal range is known exactly.
    """

    base: float
    amplitude: float
    cycle: Callable[[float], float]
    spread: float
    noise: float
    decimals: int
    minimum: float = -math.inf
    maximum: float = math.inf


PROFILES: dict[str, Profile] = {
    "gas-methane": Profile(0.6, 0.0, flat_cycle, 0.5, 0.4, 2, minimum=0.0),
    # Pressure sags while the city cooks and washes.
    "gas-pressure": Profile(0.30, -0.04, demand_cycle, 0.02, 0.004, 3),
    "water-pressure": Profile(0.35, -0.06, demand_cycle, 0.03, 0.005, 3),
    "water-flow": Profile(260.0, 200.0, demand_cycle, 60.0, 15.0, 1, minimum=0.0),
    # Sewage follows water use a little later; approximated by the same cycle.
    "drainage-level": Profile(0.40, 0.15, demand_cycle, 0.15, 0.03, 2, minimum=0.0),
    "rainfall": Profile(0.0, 2.0, shower_cycle, 0.5, 0.5, 1, minimum=0.0),
    "heating-temperature": Profile(80.0, 6.0, heating_cycle, 4.0, 0.8, 1),
    "bridge-strain": Profile(120.0, 100.0, traffic_cycle, 30.0, 15.0, 1),
    "bridge-deflection": Profile(5.0, 6.0, traffic_cycle, 2.0, 0.8, 2, minimum=0.0),
    "bridge-vibration": Profile(0.04, 0.06, traffic_cycle, 0.01, 0.01, 3, minimum=0.0),
    "tunnel-methane": Profile(0.4, 0.0, flat_cycle, 0.3, 0.3, 2, minimum=0.0),
    "tunnel-oxygen": Profile(20.80, 0.0, flat_cycle, 0.08, 0.05, 2, maximum=20.95),
    "tunnel-temperature": Profile(24.0, 3.0, air_temperature_cycle, 2.0, 0.4, 1),
    "river-level": Profile(6.5, 0.03, air_temperature_cycle, 0.5, 0.01, 2),
    "slope-displacement": Profile(2.0, 0.0, flat_cycle, 1.5, 0.05, 2, minimum=0.0),
}


def local_hour(at: datetime) -> float:
    local = at.astimezone(LOCAL_TZ)
    return local.hour + local.minute / 60 + local.second / 3600


def sensor_bias(code: str, spread: float) -> float:
    """A stable offset in [-spread, spread] per sensor, so sensors differ.

    crc32 rather than hash(): Python salts str hashes per process.
    """
    unit = zlib.crc32(code.encode()) / 0xFFFFFFFF
    return (2 * unit - 1) * spread


def normal_value(profile: Profile, at: datetime, bias: float, rng: random.Random) -> float:
    raw = profile.base + profile.amplitude * profile.cycle(local_hour(at)) + bias
    raw += rng.triangular(-profile.noise, profile.noise)
    return round(min(profile.maximum, max(profile.minimum, raw)), profile.decimals)


# --- Incidents --------------------------------------------------------------


class IncidentKind(StrEnum):
    GAS_LEAK = "gas_leak"
    PIPE_BURST = "pipe_burst"
    RIVER_RISING = "river_rising"


@dataclass(frozen=True)
class Scenario:
    """Which sensors an incident hits and how many rounds each phase lasts."""

    sensor_type: str
    onset: int  # rounds between normal and Level III
    hold: int  # rounds within Level III and within Level II, rising
    peak: int  # rounds beyond Level I
    recede: int  # rounds within Level II and within Level III, falling


SCENARIOS: dict[IncidentKind, Scenario] = {
    # Gas builds up in a valve well, is found and vented.
    IncidentKind.GAS_LEAK: Scenario("gas-methane", onset=1, hold=2, peak=3, recede=1),
    # Pressure collapses within a round or two and stays down until the
    # main is isolated and repaired.
    IncidentKind.PIPE_BURST: Scenario("water-pressure", onset=0, hold=1, peak=4, recede=1),
    # A flood wave rises and recedes slowly.
    IncidentKind.RIVER_RISING: Scenario("river-level", onset=2, hold=3, peak=3, recede=2),
}


def incident_trajectory(rule: ThresholdRule, start: float, scenario: Scenario, rng: random.Random) -> list[float]:
    """Values that cross Level III, II and I in that order, then recover.

    Each value lies well inside its level's band (never on a threshold), and
    the last two are back inside Level III by more than the dead band, so a
    rule with hysteresis sees the warning recover.
    """

    def band(level: int) -> float:
        return value_at_level(rule, level, rng.uniform(0.3, 0.7))

    limit = recovery_limit(rule)
    onset = [start + (limit - start) * (step + 1) / (scenario.onset + 1) * 0.8 for step in range(scenario.onset)]
    values = [*onset]
    values += [band(3) for _ in range(scenario.hold)]
    values += [band(2) for _ in range(scenario.hold)]
    values += [value_at_level(rule, 1, rng.uniform(0.2, 0.6)) for _ in range(scenario.peak)]
    values += [band(2) for _ in range(scenario.recede)]
    values += [band(3) for _ in range(scenario.recede)]
    values += [(start + limit) / 2, start]
    return values


@dataclass(frozen=True)
class SimSensor:
    code: str
    type_code: str
    gateway: str
    unit: str = ""
    # The rule the platform evaluates the sensor by; None: no incident plays here.
    rule: ThresholdRule | None = None

    def format(self, value: float) -> str:
        return f"{value:g} {self.unit}".strip()


@dataclass
class Incident:
    kind: IncidentKind
    sensor: SimSensor
    values: list[float]
    step: int = 0

    @property
    def finished(self) -> bool:
        return self.step >= len(self.values)

    def next_value(self) -> float:
        value = self.values[self.step]
        self.step += 1
        return value


@dataclass(frozen=True)
class IncidentEvent:
    """An incident started, changed level or ended: one line of output."""

    incident: Incident
    what: str  # "started", "level", "ended"
    value: float
    level: int | None

    def __str__(self) -> str:
        sensor = self.incident.sensor
        reading = f"{sensor.format(self.value)}"
        if self.what == "started":
            return f"incident {self.incident.kind} started at {sensor.code} ({reading})"
        if self.what == "ended":
            return f"incident {self.incident.kind} at {sensor.code} ended ({reading}, back to normal)"
        where = f"Level {'I' * self.level}" if self.level else "below Level III"
        return f"incident {self.incident.kind} at {sensor.code}: {where} ({reading})"


# --- The simulated city -----------------------------------------------------


def reading_item(code: str, at: datetime, value: float) -> dict:
    """One element of the ingest API's JSON array."""
    return {"sensor": code, "observed_at": at.astimezone(LOCAL_TZ).isoformat(), "value": value}


@dataclass
class RoundOutput:
    items_by_gateway: dict[str, list[dict]]
    events: list[IncidentEvent]


class Simulation:
    """The city's sensors over time: normal values plus the odd incident.

    Time is passed in, never read, so tests replay a day in a loop.
    """

    def __init__(
        self,
        sensors: Sequence[SimSensor],
        *,
        rng: random.Random,
        incident_every: float = 0,
        incident_kinds: Sequence[IncidentKind] = tuple(IncidentKind),
    ) -> None:
        self.sensors = [s for s in sensors if s.type_code in PROFILES]
        self.rng = rng
        self.incident_every = incident_every
        self.incident_kinds = list(incident_kinds)
        self.incidents: dict[str, Incident] = {}
        self._next_incident_at: float | None = None  # POSIX seconds
        self._pending_events: list[IncidentEvent] = []

    def candidates(self, kind: IncidentKind) -> list[SimSensor]:
        sensor_type = SCENARIOS[kind].sensor_type
        return [
            s
            for s in self.sensors
            if s.type_code == sensor_type and s.rule is not None and s.code not in self.incidents
        ]

    def start_incident(self, kind: IncidentKind, at: datetime) -> Incident | None:
        """Start an incident at a random sensor of the right type, if any is free."""
        candidates = self.candidates(kind)
        if not candidates:
            return None
        sensor = self.rng.choice(candidates)
        start = self.normal(sensor, at)
        # One decimal finer than normal readings: still tidy, and too fine
        # to round a value onto a threshold.
        decimals = PROFILES[sensor.type_code].decimals + 1
        trajectory = incident_trajectory(sensor.rule, start, SCENARIOS[kind], self.rng)
        values = [round(v, decimals) for v in trajectory]
        incident = Incident(kind=kind, sensor=sensor, values=values)
        self.incidents[sensor.code] = incident
        self._pending_events.append(IncidentEvent(incident, "started", start, None))
        return incident

    def normal(self, sensor: SimSensor, at: datetime) -> float:
        profile = PROFILES[sensor.type_code]
        return normal_value(profile, at, sensor_bias(sensor.code, profile.spread), self.rng)

    def _maybe_start_periodic(self, at: datetime) -> None:
        if self.incident_every <= 0 or not self.incident_kinds:
            return
        if self._next_incident_at is None:
            self._next_incident_at = at.timestamp() + self.incident_every
            return
        if at.timestamp() >= self._next_incident_at:
            self.start_incident(self.rng.choice(self.incident_kinds), at)
            self._next_incident_at = at.timestamp() + self.incident_every

    def _incident_value(self, incident: Incident) -> tuple[float, IncidentEvent | None]:
        rule = incident.sensor.rule
        before = level_reached(rule, incident.values[incident.step - 1]) if incident.step else None
        value = incident.next_value()
        level = level_reached(rule, value)
        if incident.finished:
            del self.incidents[incident.sensor.code]
            return value, IncidentEvent(incident, "ended", value, level)
        if level != before:
            return value, IncidentEvent(incident, "level", value, level)
        return value, None

    def round(self, at: datetime) -> RoundOutput:
        """Every sensor's reading at ``at``, grouped by gateway."""
        self._maybe_start_periodic(at)
        events, self._pending_events = self._pending_events, []
        items: dict[str, list[dict]] = {}
        for sensor in self.sensors:
            incident = self.incidents.get(sensor.code)
            if incident is None:
                value = self.normal(sensor, at)
            else:
                value, event = self._incident_value(incident)
                if event is not None:
                    events.append(event)
            items.setdefault(sensor.gateway, []).append(reading_item(sensor.code, at, value))
        return RoundOutput(items, events)

    @property
    def idle(self) -> bool:
        return not self.incidents


# --- Posting ----------------------------------------------------------------


def chunked(items: Sequence[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def readings_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/api/v1/readings/"


@dataclass
class PostResult:
    status: int | None  # None when no HTTP answer came back
    accepted: int = 0
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)
    problem: str = ""

    @property
    def retry(self) -> bool:
        """Worth sending again: nothing reached the database.

        Not after 400/401/422: the server looked at the batch and the same
        bytes would get the same answer (422 has stored the valid items).
        """
        return self.status is None or self.status == 429 or self.status >= 500


def post_readings(
    session: requests.Session, url: str, token: str, items: Sequence[dict], *, timeout: float = 10.0
) -> PostResult:
    """POST one batch; never raises for HTTP or connection trouble."""
    try:
        response = session.post(url, json=list(items), headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
    except requests.Timeout:
        return PostResult(status=None, problem=f"no answer within {timeout:g} s")
    except requests.ConnectionError:
        return PostResult(status=None, problem="cannot connect (is the server running?)")
    except requests.RequestException as exc:
        return PostResult(status=None, problem=f"{type(exc).__name__}: {str(exc)[:120]}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return PostResult(status=response.status_code, problem=f"HTTP {response.status_code}, not a JSON object")
    result = PostResult(
        status=response.status_code,
        accepted=int(body.get("accepted") or 0),
        duplicates=int(body.get("duplicates") or 0),
        errors=list(body.get("errors") or []),
    )
    if response.status_code not in (200, 422):
        result.problem = f"HTTP {response.status_code}: {body.get('detail', body)}"
    return result


@dataclass
class RoundReport:
    accepted: int = 0
    duplicates: int = 0
    errors: int = 0
    # Problem → gateways that had it: a server that is down fails them all
    # alike, and one line says so.
    failures: dict[str, list[str]] = field(default_factory=dict)
    kept_for_retry: int = 0
    error_samples: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        line = f"accepted {self.accepted}, duplicates {self.duplicates}, errors {self.errors}"
        for problem, gateways in self.failures.items():
            line += f"; {', '.join(gateways)}: {problem}"
        if self.kept_for_retry:
            line += f"; {self.kept_for_retry} readings kept for the next round"
        if self.error_samples:
            line += "; e.g. " + "; ".join(self.error_samples)
        return line


class Poster:
    """Posts each gateway's readings, one request per gateway (chunked).

    A batch that did not reach the database is kept and sent again with the
    next round; a retried reading is harmless because the API drops
    duplicates of (sensor, observed_at).
    """

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        tokens: dict[str, str],
        backlog_limit: int = BACKLOG_LIMIT,
        reissue: Callable[[str], str] | None = None,
    ) -> None:
        self.session = session
        self.url = readings_url(base_url)
        self.tokens = tokens
        self.backlog_limit = backlog_limit
        self.backlog: dict[str, list[dict]] = {}
        # Gets a gateway a new token when its own was replaced (by another
        # simulator, or in the admin), so a long run heals itself.
        self.reissue = reissue

    def post_round(self, items_by_gateway: dict[str, list[dict]]) -> RoundReport:
        report = RoundReport()
        for gateway, items in items_by_gateway.items():
            pending = self.backlog.pop(gateway, []) + items
            # The API's own limit: a larger batch would be refused whole.
            for chunk in chunked(pending, settings.INGEST_MAX_BATCH):
                result = post_readings(self.session, self.url, self.tokens[gateway], chunk)
                self._account(report, gateway, chunk, result)
        report.kept_for_retry = sum(len(items) for items in self.backlog.values())
        return report

    def _account(self, report: RoundReport, gateway: str, chunk: list[dict], result: PostResult) -> None:
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.errors += len(result.errors)
        for error in result.errors[: max(0, 3 - len(report.error_samples))]:
            index = error.get("index")
            sensor = chunk[index]["sensor"] if isinstance(index, int) and 0 <= index < len(chunk) else "?"
            report.error_samples.append(f"{sensor} {error.get('field', '')}: {error.get('message', '')}")
        if not result.problem:
            return
        problem = result.problem
        if result.status == 401 and self.reissue is not None:
            self.tokens[gateway] = self.reissue(gateway)
            problem += " (token rejected: a new one was issued; the readings go again next round)"
            self.backlog.setdefault(gateway, []).extend(chunk)
        elif result.status == 401:
            problem += " (token rejected: did another simulate_readings issue new tokens?)"
        gateways = report.failures.setdefault(problem, [])
        if gateway not in gateways:
            gateways.append(gateway)
        if result.retry:
            backlog = self.backlog.setdefault(gateway, [])
            backlog.extend(chunk)
            # The oldest readings go first when the server stays away long.
            del backlog[: max(0, len(backlog) - self.backlog_limit)]


def run_rounds(
    simulation: Simulation,
    poster: Poster,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    interval: float,
    write: Callable[[str], None],
    rounds: int | None = None,
    until_idle: bool = False,
) -> int:
    """Run rounds every ``interval`` seconds; returns how many ran.

    Stops after ``rounds`` rounds, or (``until_idle``) once no incident is
    playing, or never; Ctrl-C is the caller's to catch.
    """
    done = 0
    while True:
        started = clock()
        output = simulation.round(started)
        for event in output.events:
            write(str(event))
        report = poster.post_round(output.items_by_gateway)
        done += 1
        write(f"round {done} at {started.astimezone(LOCAL_TZ):%H:%M:%S}: {report}")
        if (rounds is not None and done >= rounds) or (until_idle and simulation.idle):
            break
        elapsed = (clock() - started).total_seconds()
        sleep(max(0.0, interval - elapsed))
    return done


# --- The database side: what the command reads before it starts ----------


def demo_sensors(gateway_codes: Iterable[str]) -> list[SimSensor]:
    """The active sensors served by the given gateways, each with a rule that
    evaluation applies to it (the oldest, should it have several)."""
    sensors = list(
        Sensor.objects.filter(gateway__code__in=list(gateway_codes), is_active=True)
        .select_related("sensor_type", "gateway")
        .order_by("code")
    )
    rules = rules_for_sensors(sensors)
    return [
        SimSensor(
            code=sensor.code,
            type_code=sensor.sensor_type.code,
            gateway=sensor.gateway.code,
            unit=sensor.sensor_type.unit,
            rule=rules[sensor.pk][0] if sensor.pk in rules else None,
        )
        for sensor in sensors
    ]


def issue_tokens(gateway_codes: Iterable[str]) -> dict[str, str]:
    """A fresh token for each active gateway; earlier tokens stop working."""
    return {
        gateway.code: gateway_issue_token(gateway=gateway)
        for gateway in Gateway.objects.filter(code__in=list(gateway_codes), is_active=True)
    }
