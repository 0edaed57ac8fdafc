"""The latency probe: a Level I reading sent, the warning on a duty officer's socket.

Runs in a process of its own (no Django). A real websocket client, signed
in as a duty officer through the real login form, listens on
``/ws/live/``; probe sensors each send a Level I reading every ``period``
seconds, half a period after a normal one, so that every Level I reading
opens or reactivates a warning and the platform pushes ``warning.changed``.

A sample is the time from just before the reading's HTTP request to the
first ``warning.changed`` of that sensor whose warning has seen the reading
(its ``last_observed_at`` is at or after the reading's time). Matching on
time rather than on status keeps the sample when the normal reading that
follows has been evaluated in the same breath.
"""

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class ProbeSpec:
    web_url: str  # daphne: login and the websocket
    ingest_url: str  # where gateways post
    cookie: str  # "sessionid=…"
    token: str
    codes: list[str]
    duration: float
    period: float = 2.0
    level1_value: float = 80.0
    normal_value: float = 1.0
    # A sample not seen this long after its send counts as lost.
    patience: float = 60.0


@dataclass
class ProbeResult:
    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    lost: int = 0  # not seen within ``patience``
    refused: int = 0  # Level I readings the platform did not accept (429/503/…)
    statuses: dict[int, int] = field(default_factory=dict)
    span: float = 0.0  # seconds between the first and the last Level I reading sent
    messages: int = 0  # warning.changed messages received, matched or not
    errors: list[str] = field(default_factory=list)


def session_cookie(web_url: str, username: str, password: str) -> str:
    """Sign in through the login form as a person would; returns "sessionid=…".

    Cookies are carried by hand: with DEBUG off they are marked Secure, and
    a client would not send them back over the bench's plain HTTP.
    """
    import requests

    login = f"{web_url}/login/"
    page = requests.get(login, timeout=30)
    page.raise_for_status()
    csrf_cookie = page.cookies.get("csrftoken")
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if not csrf_cookie or not match:
        raise RuntimeError("the login page carries no CSRF token")
    answer = requests.post(
        login,
        data={"username": username, "password": password, "csrfmiddlewaretoken": match[1]},
        headers={"Cookie": f"csrftoken={csrf_cookie}", "Referer": login},
        allow_redirects=False,
        timeout=30,
    )
    session = answer.cookies.get("sessionid")
    if answer.status_code != 302 or not session:
        raise RuntimeError(f"signing in as {username} failed: HTTP {answer.status_code}")
    return f"sessionid={session}"


def run(spec: ProbeSpec, ready, go, start_wall, results) -> None:
    """Process entry, as bench.loadgen.run."""
    probe = Probe(spec)
    try:
        probe.connect()
        ready.put("probe")
        go.wait()
        result = probe.measure(start_wall.value)
    except Exception as exc:  # reported to the parent
        result = ProbeResult(errors=[f"{type(exc).__name__}: {exc}"])
        ready.put("probe")
    finally:
        probe.close()
    results.put(result)


class Probe:
    def __init__(self, spec: ProbeSpec) -> None:
        self.spec = spec
        self.lock = threading.Lock()
        # sensor code → [(observed_at, sent at), …] not yet seen on the socket
        self.waiting: dict[str, list[tuple[datetime, float]]] = {code: [] for code in spec.codes}
        self.result = ProbeResult()
        self.socket = None
        self.listener: threading.Thread | None = None
        self.closing = threading.Event()

    def connect(self) -> None:
        from websockets.sync.client import connect

        ws_url = self.spec.web_url.replace("http://", "ws://", 1) + "/ws/live/"
        self.socket = connect(
            ws_url,
            additional_headers={"Cookie": self.spec.cookie, "Origin": self.spec.web_url},
            open_timeout=30,
            max_size=None,
        )
        hello = json.loads(self.socket.recv(timeout=30))
        if hello.get("type") != "hello" or not hello.get("duty"):
            raise RuntimeError(f"the live socket did not greet a duty officer: {hello}")
        self.listener = threading.Thread(target=self._listen, daemon=True)
        self.listener.start()

    def _listen(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for message in self.socket:
                received = time.monotonic()
                event = json.loads(message)
                if event.get("type") == "warning.changed":
                    self.result.messages += 1
                    self._seen(event["warning"], received)
        except ConnectionClosed as exc:
            if not self.closing.is_set():
                self.result.errors.append(f"the live socket closed: {exc}")

    def _seen(self, warning: dict, received: float) -> None:
        code = (warning.get("sensor") or {}).get("code")
        raw = warning.get("last_observed_at")
        if code not in self.waiting or not raw:
            return
        through = datetime.fromisoformat(raw)
        with self.lock:
            waiting = self.waiting[code]
            done = [item for item in waiting if item[0] <= through]
            self.waiting[code] = [item for item in waiting if item[0] > through]
            self.result.latencies.extend(received - sent for _, sent in done)

    def _post(self, readings: list[tuple[str, datetime, float]], level1: set[str]) -> None:
        import requests

        body = json.dumps([{"sensor": c, "observed_at": at.isoformat(), "value": v} for c, at, v in readings])
        sent = time.monotonic()
        with self.lock:
            for code, at, _ in readings:
                if code in level1:
                    self.waiting[code].append((at, sent))
        try:
            response = requests.post(
                f"{self.spec.ingest_url}/api/v1/readings/",
                data=body,
                headers={"Authorization": f"Bearer {self.spec.token}", "Content-Type": "application/json"},
                timeout=self.spec.patience,
                allow_redirects=False,
            )
            status = response.status_code
        except requests.RequestException as exc:
            status = -1
            self.result.errors.append(f"{type(exc).__name__}: {exc}")
        with self.lock:
            self.result.statuses[status] = self.result.statuses.get(status, 0) + 1
            if status not in (200, 422):
                # Not stored: no warning will come for it.
                for code, at, _ in readings:
                    if code in level1 and (at, sent) in self.waiting[code]:
                        self.waiting[code].remove((at, sent))
                        self.result.refused += 1

    def measure(self, start_wall: float) -> ProbeResult:
        """Send for ``duration`` seconds, then wait for the last warnings."""
        spec = self.spec
        count = len(spec.codes)
        tick = spec.period / count
        half = count // 2
        start = time.monotonic() + (start_wall - time.time())
        first_sent = last_sent = None
        # Every sensor calm first: a warning left active by an earlier phase
        # would not change on its next Level I reading, and push nothing.
        self._post([(code, datetime.now(UTC), spec.normal_value) for code in spec.codes], set())
        start = max(start, time.monotonic()) + spec.period / 2
        with ThreadPoolExecutor(max_workers=8) as pool:
            n = 0
            while True:
                due = start + n * tick
                if due >= start + spec.duration:
                    break
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                # One sensor's Level I reading and, half a period later in
                # its own cycle, the normal reading of the sensor opposite.
                hot, calm = spec.codes[n % count], spec.codes[(n + half) % count]
                now = datetime.now(UTC)
                readings = [(hot, now, spec.level1_value), (calm, now, spec.normal_value)]
                pool.submit(self._post, readings, {hot})
                self.result.sent += 1
                first_sent = first_sent or time.monotonic()
                last_sent = time.monotonic()
                n += 1
        deadline = time.monotonic() + spec.patience
        while time.monotonic() < deadline:
            with self.lock:
                if not any(self.waiting.values()):
                    break
            time.sleep(0.1)
        with self.lock:
            self.result.lost = sum(len(items) for items in self.waiting.values())
        self.result.span = (last_sent - first_sent) if first_sent else 0.0
        return self.result

    def close(self) -> None:
        self.closing.set()
        if self.socket is not None:
            self.socket.close()
