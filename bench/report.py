"""The benchmark's one table: figures, their targets, and where they are written.

Pure code (no Django, no database) so that it is tested on its own.
"""

import json
import math
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least p % of the values at or below it.

    Nearest rank, not interpolation, so that a p99 of 30 samples is the worst
    sample, never a value nobody observed. None for no values.
    """
    if not values:
        return None
    if not 0 < p <= 100:
        raise ValueError(f"a percentile lies in (0, 100], not {p}")
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def fmt_int(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def fmt_seconds(value: float | None, *, beyond: float | None = None) -> str:
    """Milliseconds below a second, seconds above: how people read latencies.

    Infinity is a sample never seen: "> beyond" when the wait is known.
    """
    if value is None:
        return "-"
    if math.isinf(value):
        return f"> {beyond:.0f} s" if beyond is not None else "never"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.1f} s"


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - the loop returns


def fmt_latencies(values: list[float], *, beyond: float | None = None) -> str:
    """p50 / p95 / p99."""
    if not values:
        return "no samples"
    return " / ".join(fmt_seconds(percentile(values, p), beyond=beyond) for p in (50, 95, 99))


@dataclass
class Figure:
    """One row: what was measured, the value as people read it, and the target it answers."""

    name: str
    value: str
    target: str = ""
    # True: target met; False: not met; None: no target, or not measured.
    met: bool | None = None
    raw: dict = field(default_factory=dict)

    def verdict(self) -> str:
        if self.met is None:
            return ""
        return "met" if self.met else "**not met**"


@dataclass
class Report:
    mode: str
    started_at: datetime
    machine: dict
    commit: dict
    settings: dict
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: str, target: str = "", met: bool | None = None, **raw) -> Figure:
        figure = Figure(name, value, target, met, raw)
        self.figures.append(figure)
        return figure

    def note(self, text: str) -> None:
        self.notes.append(text)

    def markdown(self) -> str:
        head = [
            f"## CitySafety benchmark, {self.mode} mode",
            "",
            f"- date: {self.started_at:%Y-%m-%d %H:%M} UTC",
            f"- commit: {describe_commit(self.commit)}",
            f"- machine: {describe_machine(self.machine)}",
            f"- set-up: {self.settings.get('summary', '')}",
            "",
            "| figure | measured | target | |",
            "| --- | --- | --- | --- |",
        ]
        rows = [f"| {cell(f.name)} | {cell(f.value)} | {cell(f.target)} | {f.verdict()} |" for f in self.figures]
        notes = ["", *[f"- {note}" for note in self.notes]] if self.notes else []
        return "\n".join([*head, *rows, *notes]) + "\n"

    def as_dict(self) -> dict:
        return {
            "mode": self.mode,
            "started_at": self.started_at.isoformat(),
            "machine": self.machine,
            "commit": self.commit,
            "settings": self.settings,
            "figures": [asdict(f) for f in self.figures],
            "notes": self.notes,
        }

    def write(self, directory: Path = RESULTS) -> Path:
        """Write the table (Markdown) and the raw figures (JSON); returns the Markdown file."""
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{self.started_at:%Y-%m-%dT%H%MZ}-{self.commit.get('short', 'unknown')}-{self.mode}"
        path = directory / f"{stem}.md"
        path.write_text(self.markdown())
        (directory / f"{stem}.json").write_text(json.dumps(self.as_dict(), indent=2, default=str) + "\n")
        return path


def cell(text: str) -> str:
    """Table cells cannot hold a pipe or a newline."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def describe_commit(commit: dict) -> str:
    text = commit.get("short", "unknown")
    if commit.get("branch"):
        text += f" ({commit['branch']})"
    if commit.get("dirty"):
        text += ", with uncommitted changes"
    return text


def describe_machine(machine: dict) -> str:
    return (
        f"{machine.get('cpus')} CPUs ({machine.get('cpu_model', 'unknown CPU')}), "
        f"{machine.get('ram_gib', 0):.1f} GiB RAM, {machine.get('system', '')}, "
        f"load average {machine.get('load_at_start', 0):.2f} at the start"
    )


def machine_info() -> dict:
    model = ""
    ram_kib = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_kib = int(line.split()[1])
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor() or "unknown CPU",
        "ram_gib": ram_kib / 1024 / 1024,
        "system": f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "load_at_start": os.getloadavg()[0],
    }


def commit_info(root: Path = ROOT) -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "short": git("rev-parse", "--short", "HEAD") or "unknown",
        "full": git("rev-parse", "HEAD"),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def utc_now() -> datetime:
    return datetime.now(UTC)
