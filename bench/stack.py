"""The platform under test, started as ``make run`` starts it, with servers of its own.

The bench starts a private Redis and a private Mosquitto on free ports
(nothing it enqueues or publishes can reach a developer's ``make run`` or
the tests, nor theirs reach it), then ``scripts/run.sh`` with its own
database, ports and topic prefix. Every process is stopped by its id.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The bench's own database connections name themselves so that their CPU is
# not counted as the platform's (libpq reads PGAPPNAME).
BENCH_APPLICATION_NAME = "citysafety-bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def wait_until(condition: Callable[[], object], *, timeout: float, what: str, interval: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(interval)


def stop_process(popen: subprocess.Popen, *, timeout: float = 10) -> None:
    if popen.poll() is None:
        popen.terminate()
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=5)


@dataclass
class Server:
    """A private redis-server or mosquitto on a free port, its files in a temporary folder."""

    name: str
    port: int
    popen: subprocess.Popen
    folder: Path

    def stop(self) -> None:
        stop_process(self.popen)
        shutil.rmtree(self.folder, ignore_errors=True)


def redis_start() -> Server:
    folder = Path(tempfile.mkdtemp(prefix="citysafety-bench-redis-"))
    port = free_port()
    # Redis holds nothing the database does not (DESIGN.md): no persistence.
    popen = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder), "--logfile", str(folder / "redis.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = Server("redis", port, popen, folder)
    _wait_listening(server)
    return server


def mosquitto_start() -> Server:
    folder = Path(tempfile.mkdtemp(prefix="citysafety-bench-mosquitto-"))
    port = free_port()
    config = folder / "mosquitto.conf"
    # The default queue of 1,000 messages per client would drop batches
    # while the bridge is behind; the bench measures the bridge, not that
    # limit, so it keeps them (and counts what stays unanswered).
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 1000000\nlog_dest stderr\nlog_type error\nlog_type warning\n"
    )
    # Started as root, mosquitto drops to its own user; it writes nothing here.
    folder.chmod(0o755)
    config.chmod(0o644)
    popen = subprocess.Popen(
        ["mosquitto", "-c", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "mosquitto.log").open("w"),
    )
    server = Server("mosquitto", port, popen, folder)
    _wait_listening(server)
    return server


def _wait_listening(server: Server) -> None:
    def listening() -> bool:
        if server.popen.poll() is not None:
            raise RuntimeError(f"{server.name} exited with status {server.popen.returncode} (files in {server.folder})")
        return port_open(server.port)

    wait_until(listening, timeout=20, what=f"{server.name} listening on port {server.port}")


@dataclass
class Stack:
    """``scripts/run.sh`` running the platform; its output goes to ``log``."""

    popen: subprocess.Popen
    log: Path
    port: int
    ingest_port: int
    # Whether run.sh starts a separate server for the gateways' API on
    # INGEST_PORT (gunicorn, issue #7); before that, daphne serves it.
    has_ingest_server: bool
    env: dict[str, str] = field(repr=False, default_factory=dict)
    # pid -> start time (ticks after boot), to recognise our processes later
    known_pids: dict[int, float] = field(default_factory=dict)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port if self.has_ingest_server else self.port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_listening(self, timeout: float = 180) -> None:
        def up() -> bool:
            if not self.alive():
                raise RuntimeError(f"scripts/run.sh exited with status {self.popen.returncode}:\n{self.output_tail()}")
            return port_open(self.port) and (not self.has_ingest_server or port_open(self.ingest_port))

        wait_until(up, timeout=timeout, what="the stack listening", interval=0.5)

    def remember(self, pids: set[int]) -> None:
        for pid in pids:
            stat = process_stat(pid)
            if stat is not None:
                self.known_pids[pid] = stat[2]

    def stop(self, timeout: float = 90) -> None:
        """SIGTERM to run.sh, which stops its children; then any child left behind, by id."""
        self.remember(descendants(self.popen.pid))
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        for pid, started in sorted(self.known_pids.items()):
            stat = process_stat(pid)
            # The same start time: still our process, not a new one that got its id.
            if stat is not None and stat[2] == started:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def stack_start(*, env: dict[str, str], log: Path) -> Stack:
    port, ingest_port = free_port(), free_port()
    run_sh = ROOT / "scripts" / "run.sh"
    has_ingest_server = "INGEST_PORT" in run_sh.read_text()
    full_env = {**env, "PORT": str(port), "INGEST_PORT": str(ingest_port), "LOAD_DEMO": "0", "SIMULATOR": "0"}
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("w")
    popen = subprocess.Popen(
        ["bash", str(run_sh)],
        cwd=ROOT,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Stack(popen, log, port, ingest_port, has_ingest_server, full_env)


# --- Processes and their CPU time -------------------------------------------


def process_stat(pid: int) -> tuple[int, int, float, int] | None:
    """(parent pid, utime + stime, start time, cutime + cstime) of a live process; times in ticks."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), float(fields[19]), int(fields[13]) + int(fields[14])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = process_stat(int(entry.name))
            if stat is not None:
                children.setdefault(stat[0], []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


# Names of the stack's processes, by what their command line runs.
PROCESS_NAMES = [
    (re.compile(r"\bdaphne\b"), "web (daphne)"),
    (re.compile(r"\bgunicorn\b"), "ingest (gunicorn)"),
    (re.compile(r"\bcelery\b.*\bworker\b"), "worker (celery)"),
    (re.compile(r"\bcelery\b.*\bbeat\b"), "beat (celery)"),
    (re.compile(r"\bmqtt_bridge\b"), "mqtt bridge"),
    (re.compile(r"\bsed\b"), "run.sh and its log prefixers"),
]


def process_name(command: str) -> str:
    for pattern, name in PROCESS_NAMES:
        if pattern.search(command):
            return name
    return "run.sh and its log prefixers" if "run.sh" in command or not command else command.split()[0]


class CpuAccount:
    """CPU seconds per named group of processes, between ``begin`` and ``end``.

    Sampled (``sample``) about once a second, so that processes that start
    during a phase (pool children, database backends) are counted from
    their first tick; one that lives less than a sample is missed.

    A ``server`` (the PostgreSQL postmaster) is counted whole, children
    included, however short-lived: a child's time moves into its parent's
    cutime/cstime when it exits, so the server's share is the change of
    that, plus what its live children used, minus what children that
    exited during the phase had used before it began.
    """

    def __init__(self, *, server: int | None = None, server_name: str = "") -> None:
        self.baseline: dict[tuple[int, float], int] = {}
        self.latest: dict[tuple[int, float], tuple[str, int]] = {}
        self.server, self.server_name = server, server_name
        self.server_baseline = 0
        self.server_children: dict[tuple[int, float], int] = {}
        self.began = 0.0
        self.ended = 0.0

    def begin(self, groups: dict[int, str]) -> None:
        self.baseline, self.latest = {}, {}
        self.began = time.monotonic()
        for pid in groups:
            stat = process_stat(pid)
            if stat is not None:
                self.baseline[(pid, stat[2])] = stat[1]
        if self.server is not None:
            self.server_baseline = self._server_total()
            self.server_children = self._server_children()
        self.sample(groups)

    def sample(self, groups: dict[int, str]) -> None:
        for pid, name in groups.items():
            stat = process_stat(pid)
            if stat is not None:
                self.latest[(pid, stat[2])] = (name, stat[1])

    def end(self, groups: dict[int, str]) -> dict[str, float]:
        self.sample(groups)
        self.ended = time.monotonic()
        seconds: dict[str, float] = {}
        for key, (name, ticks) in self.latest.items():
            used = (ticks - self.baseline.get(key, 0)) / CLOCK_TICKS
            seconds[name] = seconds.get(name, 0.0) + used
        if self.server is not None:
            live = self._server_children()
            ticks = self._server_total() - self.server_baseline
            ticks += sum(used - self.server_children.get(key, 0) for key, used in live.items())
            ticks -= sum(used for key, used in self.server_children.items() if key not in live)
            seconds[self.server_name] = ticks / CLOCK_TICKS
        return seconds

    def _server_total(self) -> int:
        stat = process_stat(self.server)
        return 0 if stat is None else stat[1] + stat[3]

    def _server_children(self) -> dict[tuple[int, float], int]:
        children = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = process_stat(int(entry.name))
                if stat is not None and stat[0] == self.server:
                    children[(int(entry.name), stat[2])] = stat[1]
        return children

    @property
    def wall(self) -> float:
        return self.ended - self.began


def stack_processes(stack: Stack | None) -> dict[int, str]:
    """The stack's processes, each named after the process run.sh started it under."""
    if stack is None or not stack.alive():
        return {}
    named: dict[int, str] = {stack.popen.pid: "run.sh and its log prefixers"}
    for top in _children(stack.popen.pid):
        name = process_name(cmdline(top))
        named[top] = name
        for pid in descendants(top):
            named[pid] = name
    stack.remember({pid for pid in named if pid != stack.popen.pid})
    return named


def _children(pid: int) -> list[int]:
    try:
        text = " ".join((task / "children").read_text() for task in Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    return [int(child) for child in text.split()]
