"""`python -m bench.tasks` runs against the emulators and reports every row (no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tasks_bench_quick_run_reports_every_row() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.tasks", "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout)
    assert set(rows) == {
        "defer(fn, small args)",
        "client.create_task (official client, bare)",
        "defer(fn, 200 KB) -> Datastore",
        "round trip: RunTask -> app -> answer",
        "round trip: defer -> dispatcher -> fn runs",
    }
    for row in rows.values():
        assert row["n"] >= 5 and row["median_ms"] > 0
