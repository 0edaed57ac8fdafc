"""Load generators: gateways posting batches over HTTP or publishing them over MQTT.

Each runs in a process of its own (``multiprocessing`` with ``spawn``; this
module imports no Django) and offers load in an open loop: batch n is due
at start + n * batch_size / rate whatever happened to the batches before
it, as a city's gateways do not wait for each other. A batch still waiting
for a free connection when the run ends is counted as not sent.

Batch n is sent by gateway n mod G with its whole block of sensors, all
observed at the batch's due time; so every (sensor, time) is new.
"""

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Background values stay below the bench rule's Level III threshold (10).
VALUES = [f"{(n * 37 % 90) / 10:.1f}" for n in range(97)]


@dataclass(frozen=True)
class Gateway:
    code: str
    token: str
    first: int
    count: int


@dataclass(frozen=True)
class LoadSpec:
    kind: str  # "http" or "mqtt"
    target: str  # http://host:port, or mqtt://host:port
    gateways: list[Gateway]
    rate: float  # readings/s offered by this process
    duration: float  # seconds of offered load
    batch_size: int = 1000
    connections: int = 16  # HTTP: requests in flight at most
    timeout: float = 60.0  # HTTP: per request; MQTT: wait for the last replies
    topic_prefix: str = ""  # MQTT
    name: str = "load"


@dataclass
class Outcome:
    """What happened to one batch; times are time.monotonic() in the generator's process."""

    due: float
    sent: float
    done: float | None
    status: int  # HTTP status, or the MQTT reply's status; 0: no answer, -1: connection error
    readings: int
    accepted: int


@dataclass
class LoadResult:
    name: str
    kind: str
    started: float  # time.time() of batch 0's due time
    duration: float
    offered_readings: int = 0
    not_sent: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def sensor_code(n: int) -> str:
    # The same codes as bench.db.sensor_code (this module stays free of Django).
    return f"B-{n:06d}"


def batch_body(gateway: Gateway, observed_at: str, n: int) -> str:
    """A batch of readings as JSON text, built without a dict per reading (the generator must be cheap)."""
    items = ",".join(
        f'{{"sensor":"{sensor_code(gateway.first + i)}","observed_at":"{observed_at}","value":{VALUES[(n + i) % len(VALUES)]}}}'
        for i in range(gateway.count)
    )
    return f"[{items}]"


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="microseconds")


def run(spec: LoadSpec, ready, go, start_wall, results) -> None:
    """Process entry: connect, say ready, wait for ``go``, offer the load, put the result."""
    try:
        generator = HttpLoad(spec) if spec.kind == "http" else MqttLoad(spec)
        generator.prepare()
        ready.put(spec.name)
        go.wait()
        result = generator.offer(start_wall.value)
    except Exception as exc:  # reported to the parent, which fails the phase
        result = LoadResult(spec.name, spec.kind, 0.0, spec.duration, errors=[f"{type(exc).__name__}: {exc}"])
        ready.put(spec.name)
    results.put(result)


class _Schedule:
    """Due times of an open loop: batch n at start + n * interval, for ``duration`` seconds."""

    def __init__(self, spec: LoadSpec) -> None:
        self.interval = spec.batch_size / spec.rate
        self.count = max(1, round(spec.duration / self.interval))

    def due(self, start: float, n: int) -> float:
        return start + n * self.interval


class HttpLoad:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.url = f"{spec.target.rstrip('/')}/api/v1/readings/"

    def prepare(self) -> None:
        import requests  # noqa: F401 - imported before the clock starts

    def offer(self, start_wall: float) -> LoadResult:
        import requests

        spec = self.spec
        schedule = _Schedule(spec)
        result = LoadResult(spec.name, spec.kind, start_wall, spec.duration)
        jobs: queue.Queue = queue.Queue()
        lock = threading.Lock()
        # Monotonic and wall clocks side by side: due times are monotonic,
        # observed_at is wall-clock.
        start_mono = time.monotonic() + (start_wall - time.time())
        stop_sending = threading.Event()

        def worker() -> None:
            session = requests.Session()
            while True:
                job = jobs.get()
                if job is None:
                    return
                n, due = job
                if stop_sending.is_set():
                    with lock:
                        result.not_sent += 1
                    continue
                gateway = spec.gateways[n % len(spec.gateways)]
                body = batch_body(gateway, _iso(start_wall + (due - start_mono)), n).encode()
                sent = time.monotonic()
                status, accepted, done = -1, 0, None
                try:
                    response = session.post(
                        self.url,
                        data=body,
                        headers={"Authorization": f"Bearer {gateway.token}", "Content-Type": "application/json"},
                        timeout=spec.timeout,
                        # A redirect (to HTTPS, with DEBUG off) is an answer to count, not to follow.
                        allow_redirects=False,
                    )
                    done = time.monotonic()
                    status = response.status_code
                    if status in (200, 422):
                        accepted = int(response.json().get("accepted", 0))
                except requests.RequestException as exc:
                    with lock:
                        if len(result.errors) < 20:
                            result.errors.append(f"{type(exc).__name__}: {exc}")
                with lock:
                    result.outcomes.append(Outcome(due, sent, done, status, gateway.count, accepted))

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(spec.connections)]
        for thread in threads:
            thread.start()
        for n in range(schedule.count):
            due = schedule.due(start_mono, n)
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            jobs.put((n, due))
            result.offered_readings += spec.gateways[n % len(spec.gateways)].count
        # The load ends when its time is up: a batch not yet sent by then is
        # one the platform could not take in time.
        time.sleep(max(0.0, start_mono + spec.duration - time.monotonic()))
        stop_sending.set()
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join(timeout=spec.timeout + 5)
        return result


class MqttLoad:
    """One MQTT client per gateway, as in the field; replies matched to batches in order."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.clients = {}
        self.pending: dict[str, list[Outcome]] = {}
        self.lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self.errors: list[str] = []

    def prepare(self) -> None:
        from urllib.parse import urlsplit

        import paho.mqtt.client as mqtt

        parts = urlsplit(self.spec.target)
        subscribed = threading.Semaphore(0)
        for gateway in self.spec.gateways:
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=f"{self.spec.topic_prefix}-{gateway.code}-load"
            )
            client.max_inflight_messages_set(1000)
            client.max_queued_messages_set(0)
            client.user_data_set(gateway.code)
            client.on_message = self._on_message
            client.on_subscribe = lambda *args: subscribed.release()
            client.connect(parts.hostname, parts.port or 1883, keepalive=60)
            client.loop_start()
            client.subscribe(f"{self.spec.topic_prefix}/{gateway.code}/results", qos=1)
            self.clients[gateway.code] = client
            self.pending[gateway.code] = []
        for _ in self.spec.gateways:
            if not subscribed.acquire(timeout=20):
                raise TimeoutError("the broker did not confirm a subscription")

    def _on_message(self, client, code, message) -> None:
        now = time.monotonic()
        try:
            body = json.loads(message.payload)
        except ValueError:
            body = {}
        with self.lock:
            waiting = self.pending.get(code)
            if not waiting:
                self.errors.append(f"a reply on {message.topic} matched no batch")
                return
            # The bridge answers a gateway's batches in the order it takes
            # them; replies are matched in that order.
            outcome = waiting.pop(0)
            outcome.done = now
            outcome.status = int(body.get("status", 0))
            outcome.accepted = int(body.get("accepted", 0))

    def offer(self, start_wall: float) -> LoadResult:
        spec = self.spec
        schedule = _Schedule(spec)
        result = LoadResult(spec.name, spec.kind, start_wall, spec.duration)
        start_mono = time.monotonic() + (start_wall - time.time())
        for n in range(schedule.count):
            due = schedule.due(start_mono, n)
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            gateway = spec.gateways[n % len(spec.gateways)]
            readings = batch_body(gateway, _iso(start_wall + (due - start_mono)), n)
            payload = f'{{"token":"{gateway.token}","readings":{readings}}}'
            outcome = Outcome(due, time.monotonic(), None, 0, gateway.count, 0)
            with self.lock:
                self.pending[gateway.code].append(outcome)
                self.outcomes.append(outcome)
            self.clients[gateway.code].publish(f"{spec.topic_prefix}/{gateway.code}/readings", payload, qos=1)
            result.offered_readings += gateway.count
        deadline = start_mono + spec.duration + spec.timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not any(self.pending.values()):
                    break
            time.sleep(0.2)
        for client in self.clients.values():
            client.loop_stop()
            client.disconnect()
        with self.lock:
            result.outcomes = list(self.outcomes)
            result.errors = self.errors[:20]
        return result
