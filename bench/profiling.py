"""Sampling profiles of a server under load with py-spy (``--nonblocking``: never stops it).

The summary says where the server's time goes per function (self time) and per source
line for the hottest lines, which is the evidence the report quotes for a missed target.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Profiler", "profile_phase"]


class Profiler:
    """``start()`` … ``stop()`` → a summary dict (or an ``error`` if py-spy is unavailable)."""

    def __init__(self, pid: int, raw: Path, rate: int = 250, *,
                 subprocesses: bool = False) -> None:
        self.pid = pid
        self.subprocesses = subprocesses
        self.raw = raw
        self.rate = rate
        self.proc: subprocess.Popen[bytes] | None = None
        self.error: str | None = None

    def start(self) -> None:
        exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which(
            "py-spy")
        if exe is None:
            self.error = "py-spy is not installed (pip install -r requirements-bench.txt)"
            return
        self.raw.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "record", "-p", str(self.pid), "-o", str(self.raw), "-f", "raw",
             "-r", str(self.rate), "--nonblocking",
             *(["--subprocesses"] if self.subprocesses else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> dict[str, Any]:
        if self.proc is None:
            return {"error": self.error or "not started"}
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return {"error": "py-spy did not stop"}
        if not self.raw.exists():
            return {"error": f"py-spy wrote nothing: {err.decode(errors='replace')[-300:]}"}
        return summarize(self.raw)


def profile_phase(profiler: Profiler | None, into: dict[str, Any]) -> Callable[[str], None]:
    """A load generator mark handler: py-spy from ``profile_start`` to ``profile_end``, its
    summary into ``into`` (nothing at all without a ``profiler``)."""

    def on_mark(name: str) -> None:
        if profiler is not None and name == "profile_start":
            profiler.start()
        if profiler is not None and name == "profile_end":
            into.update(profiler.stop())

    return on_mark


def _function(frame: str) -> str:
    """``name (path/file.py:123)`` -> ``name (file.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rpartition(":")[0]
    return f"{name} ({'/'.join(Path(path).parts[-2:])})"


def summarize(raw: Path, top: int = 12) -> dict[str, Any]:
    by_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_line: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        leaf = frames[-1]
        by_function[_function(leaf)] += n
        for name in {_function(f) for f in frames if " (" in f}:
            inclusive[name] += n
        name, _, where = leaf.partition(" (")
        by_line[f"{name} ({'/'.join(Path(where.rstrip(')')).parts[-2:])})"] += n
    if not total:
        return {"error": "no samples"}
    return {"samples": total, "raw": raw.name,
            "self_by_function": [(f, round(100 * n / total, 1))
                                 for f, n in by_function.most_common(top)],
            "self_by_line": [(f, round(100 * n / total, 1)) for f, n in by_line.most_common(6)],
            "inclusive": [(f, round(100 * n / total, 1))
                          for f, n in inclusive.most_common(top * 4)]}
