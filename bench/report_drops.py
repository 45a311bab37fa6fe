"""The report's section for issue 11's workloads (``drops``, ``rebalance``): nothing measured
here, only ``results.json`` turned into tables and the sentences that say what they mean."""

from __future__ import annotations

from typing import Any

from bench.report import DASH, X, _f, _table

__all__ = ["drops_section"]


def _drops(w: dict[str, Any]) -> list[str]:
    before, after = w["variants"]["before"], w["variants"]["after"]
    subs = w["subscribers"]
    out = ["### A drop into a column of 20", "",
           f"{w['drops']} drops of a card into a column of {w['column_size']} (alternately "
           f"between {' and '.join(w['columns'])}; the target column held "
           f"{', '.join(map(str, w['column_sizes']))} cards after each drop), {subs} "
           "websocket subscribers of the sprint, live Django (" + w.get("django", "") + ") and "
           "one realtime node. Each drop is made twice in a row, so both rows share the "
           "machine's minute:", "",
           "* **before** replays the old client (`web/board-model.js` until issue 11): one "
           "PATCH for the dragged card, then one PATCH per card whose `order` its `renumber` "
           "changed, k of them, 6 at a time as a browser's connections allow. `order` no "
           "longer exists, so the replay PATCHes `description` instead; k is computed by "
           "the old algorithm (ported in `bench/dropgen.py`) on the same drops. The "
           "requests, transactions and events are the old drop's; what each PATCH wrote is "
           "not, and the card does not move in this row.",
           "* **after** is one `POST /api/tasks/<id>/move/` with `after` and `If-Match`.", "",
           "*Until all have it*: from the first request sent until every subscriber has the "
           "drop's last event (the board is the same everywhere). *Answered*: until the "
           "dropping client has the answer to its last request.", ""]
    head = ["drop", "requests / drop", f"events / drop (min{DASH}max)",
            f"frames fanned out / drop ({subs} subscribers)", "answered p50 ms",
            "until all have it p50 ms", "p99 ms", "lost frames"]
    rows = []
    for name, v in (("before (old client, replayed)", before), ("after (one move)", after)):
        rows.append([name, _f(v["requests_mean"]),
                     f"{_f(v['events_mean'])} ({v['events_min']}{DASH}{v['events_max']})",
                     _f(v["events_mean"] * subs, 0), _f(v["answered"]["p50"]),
                     _f(v["settled"]["p50"]),
                     _f(v["settled"]["p99"]), _f(v["lost_frames"])])
    out += _table(head, rows)
    ratio = before["events_mean"] / after["events_mean"] if after["events_mean"] else None
    faster = (before["settled"]["p50"] / after["settled"]["p50"]
              if before["settled"]["p50"] and after["settled"]["p50"] else None)
    out += [f"One drop now fans out {_f(ratio)}{X} fewer events, and every board shows it "
                f"{_f(faster)}{X} sooner (p50). An event count above 1 after the change is a "
                "rebalance in that drop (the column's other cards get new ranks, one event "
                "each).", ""]
    return out


def _rebalance(w: dict[str, Any]) -> list[str]:
    out = ["### Rank rebalances", "",
           f"Moves within one column of {w['column']} cards through the services "
           f"(`{w.get('database', '')}`), counted by the board's rebalance counter "
           f"(`api.board.ranks.rebalance_count`); a key longer than {w['rebalance_length']} "
           "characters makes the server rewrite the column in the same transaction. *Same "
           "place* drops the bottom card directly below the top one every time, the worst "
           "case for fractional keys.", ""]
    out += _table(["pattern", "moves", "rebalances", "per 1,000 moves", "events / move",
                   "longest rank", "ms / move"],
                  [[r["pattern"], _f(r["moves"]), _f(r["rebalances"]),
                    _f(r["per_1000_moves"], 2), _f(r["events_per_move"], 2),
                    _f(r["longest_rank"]), _f(r["ms_per_move"], 2)] for r in w["patterns"]])
    return out


def drops_section(data: dict[str, Any]) -> list[str]:
    """``## 8. Drops`` (issue 11), or nothing when neither workload ran."""
    found = {n: data["workloads"].get(n) for n in ("drops", "rebalance")}
    if not any(found.values()):
        return []
    out = ["## 8. Drops and rank rebalances (issue 11)", ""]
    for name, part in (("drops", _drops), ("rebalance", _rebalance)):
        w = found[name]
        if not w:
            continue
        if "error" in w or "skipped" in w:
            out += [f"*{name}*: {w.get('error') or w.get('skipped')}", ""]
            continue
        out += part(w)
    return out
