"""How the report writes numbers, tables and plots: what every workload's section shares.

Nothing is measured here; these helpers turn ``results.json`` values into Markdown cells
and save the workloads' matplotlib figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "DASH",
    "MISS",
    "NAMES",
    "Row",
    "X",
    "find",
    "fmt",
    "get",
    "headline",
    "profile_lines",
    "ratio",
    "rows_of",
    "save_figure",
    "skipped",
    "table",
]

Row = dict[str, Any]
X = "\N{MULTIPLICATION SIGN}"
DASH = "\N{EN DASH}"
#: The servers compared, as the report names them.
NAMES = {"watercooler": "Watercooler", "naive": "naive Tornado loop",
         "channels": "Django Channels", "floor": "syscall floor"}
#: The note of a missed target.
MISS = "see 'What bounds the misses'"


def fmt(value: Any, digits: int = 1) -> str:
    """A number with thousands separators and ``digits`` decimals; a dash for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ratio(value: float | None, base: float | None) -> str:
    """``value / base`` as ``2.7x`` (with a multiplication sign), or a dash for nothing."""
    if not value or not base:
        return DASH
    return f"{value / base:.1f}{X}"


def table(head: list[str], rows: Iterable[list[Any]]) -> list[str]:
    """A Markdown table, followed by an empty line."""
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def rows_of(data: dict[str, Any], name: str) -> list[Row]:
    """The rows workload ``name`` measured ([] if it did not run or failed)."""
    workload = data["workloads"].get(name) or {}
    rows: list[Row] = workload.get("rows", [])
    return rows


def headline(data: dict[str, Any]) -> int:
    """The S the targets speak of: 1,000, or the largest a quick run has below it."""
    sizes = [r["subscribers"] for r in rows_of(data, "fanout") if r["subscribers"] <= 1000]
    return max(sizes, default=1000)


def find(rows: list[Row], **match: Any) -> Row | None:
    """The first row whose fields equal ``match``."""
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def get(row: Row | None, *path: str) -> Any:
    """``row[path[0]][path[1]]...``, or None where a level is missing."""
    value: Any = row
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def skipped(data: dict[str, Any], name: str) -> list[str]:
    """The section of a workload that failed (nothing for one that did not run)."""
    w = data["workloads"].get(name)
    if w and "error" in w:
        return [f"## {name}", "", f"**Failed:** `{w['error']}`", ""]
    return []


def profile_lines(profile: dict[str, Any] | None, key: str = "self_by_function",
                  top: int = 8, keep: Callable[[str], bool] | None = None) -> list[str]:
    """A py-spy summary (`bench.profiling`) as a list of ``pct % `function` `` lines."""
    if not profile or "error" in profile:
        return [f"  (no profile: {(profile or {}).get('error', 'not taken')})"]
    rows = [(f, pct) for f, pct in profile.get(key, []) if keep is None or keep(f)][:top]
    return [f"  - {pct:.1f} % `{f}`" for f, pct in rows]


def save_figure(fig: Any, out: Path, name: str, alt: str) -> list[str]:
    """Save a matplotlib figure as ``out/name`` and close it; its Markdown image."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return [f"![{alt}]({name})"]
