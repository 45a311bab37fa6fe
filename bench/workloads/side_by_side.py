"""Section 7 of the report, side by side: workloads 2 to 4 on every server, as ratios to
Watercooler within the same run. Nothing is measured for it; it reads the rows of ``fanout``,
``relay`` and ``e2e``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.tables import DASH, NAMES, Row, X, find, headline, rows_of, table

__all__ = ["section"]


def _compare(rows: list[Row], subject: str, key: Callable[[Row], Any],
             lower_is_better: bool = True, **match: Any) -> str:
    """How many times better Watercooler's ``key`` is than ``subject``'s, or a dash."""
    wc, other = find(rows, subject="watercooler", **match), find(rows, subject=subject, **match)
    a, b = (key(wc) if wc else None), (key(other) if other else None)
    if not a or not b:
        return DASH
    return f"{(b / a) if lower_is_better else (a / b):.2f}{X}"


def section(data: dict[str, Any]) -> list[str]:
    """``## 7. Side by side``."""
    fan, rel, e2e = rows_of(data, "fanout"), rows_of(data, "relay"), rows_of(data, "e2e")
    hs = headline(data)
    out = ["## 7. Side by side (ratios to Watercooler, same run)", "",
           f"Greater than 1{X} means Watercooler is better by that factor.", ""]
    lines = [[NAMES[subject],
              _compare(fan, subject, lambda r: r["closed"]["cpu_us_per_frame"], subscribers=hs),
              _compare(fan, subject, lambda r: r["closed"]["last"]["p50"], subscribers=hs),
              _compare(fan, subject, lambda r: r["closed"]["last"]["p99"], subscribers=hs),
              _compare(rel, subject, lambda r: r["latency"]["p50"]),
              _compare(rel, subject, lambda r: r["frames_s"], lower_is_better=False),
              _compare(e2e, subject, lambda r: r["last"]["p50"])]
             for subject in ("naive", "channels", "floor")]
    out += table(["compared with", f"fan-out CPU/frame (S={hs:,})", f"fan-out p50 (S={hs:,})",
                  f"fan-out p99 (S={hs:,})", "relay p50", "relay frames/s", "REST → 100 p50"],
                 lines)
    return out
