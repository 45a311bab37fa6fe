"""``python -m bench --smoke`` runs end to end and writes a report (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.servers import ROOT


def test_bench_smoke_writes_the_report_and_raw_numbers(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["workloads"]) == {"connections", "fanout", "relay", "drops", "rebalance"}
    assert data["machine"]["cores"] >= 1
    for row in data["workloads"]["fanout"]["rows"]:
        assert row["lost_frames"] == 0, row
    drops = data["workloads"]["drops"]["variants"]
    assert drops["after"]["events_mean"] == 1 and drops["after"]["lost_frames"] == 0, drops
    assert drops["before"]["requests_mean"] == drops["before"]["events_mean"], drops
    assert data["workloads"]["rebalance"]["patterns"][0]["moves"] == 20
    report = (tmp_path / "REPORT.md").read_text()
    assert "## Targets (issue 8)" in report and "## 2. Fan-out" in report
    assert "## 8. Drops and rank rebalances" in report
