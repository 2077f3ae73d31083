"""Smoke test for the benchmark harness: it runs, checks correctness, reports every scenario.

Timings are never asserted: the machine is noisy and speed is not what this test is about.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.compare import ScenarioResult
from bench.scenarios import RequestSpec

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"hello", "json", "form", "404", "template", "session", "session-untouched"}
#: The --gae comparisons that need no emulator, in report order.
GAE_OFFLINE = ["gae-hello", "gae-hello-on-gae", "gae-ndb-context-cost", "gae-ndb-context"]
#: The smallest timing that still runs every code path once.
TINY = ["--rounds", "1", "--slice", "0.005", "--cold-runs", "1"]


def _run_bench(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", *args, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return proc, data


def _table_rows(markdown: str, header_start: str) -> list[list[str]]:
    """Return the data rows (as cell lists) of the table whose header starts with ``header``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:  # skip the header and the |---| line
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


@pytest.mark.parametrize("extra", [[], ["--self-test"]], ids=["framework", "flask-self-test"])
def test_quick_run_reports_one_checked_row_per_scenario(tmp_path: Path, extra: list[str]) -> None:
    out = tmp_path / "bench.json"
    quick = ["--quick", "--rounds", "1", "--slice", "0.01", "--cold-runs", "1"]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", *quick, "--json", str(out), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All correctness checks passed." in proc.stdout

    data = json.loads(out.read_text(encoding="utf-8"))
    names = [s["name"] for s in data["scenarios"]]
    assert set(names) >= REQUIRED
    assert data["ok"] is True
    assert all(s["ok"] and not any(s["problems"].values()) for s in data["scenarios"])

    rows = _table_rows(proc.stdout, "| scenario |")
    assert [row[0] for row in rows] == names
    assert all(row[-1] == "ok" for row in rows)

    cold_rows = _table_rows(proc.stdout, "| phase |")
    assert [row[0] for row in cold_rows][:4] == [
        "import",
        "build app",
        "first request",
        "import + app + request",
    ]
    assert data["coldstart"]["error"] is None


def test_set_cookie_expectations_catch_a_missing_or_unwanted_cookie() -> None:
    wants = RequestSpec("/", expect_set_cookie="session")
    assert wants.problems(200, [("Set-Cookie", "session=abc.def; HttpOnly; Path=/")], b"") == []
    assert wants.problems(200, [], b"")
    assert wants.problems(200, [("Set-Cookie", "other=abc; Path=/")], b"")
    # Deleting the cookie (an empty value) is not setting it.
    assert wants.problems(
        200, [("Set-Cookie", "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT")], b""
    )

    refuses = RequestSpec("/", expect_no_set_cookie=True)
    assert refuses.problems(200, [("Content-Type", "text/html")], b"") == []
    assert refuses.problems(200, [("Set-Cookie", "session=abc; Path=/")], b"")


def test_gae_run_reports_every_offline_comparison_and_the_cold_start(tmp_path: Path) -> None:
    scenarios = [arg for name in [*GAE_OFFLINE, "coldstart"] for arg in ("--scenario", name)]
    proc, data = _run_bench(tmp_path, "--gae", *TINY, *scenarios)
    assert "All correctness checks passed." in proc.stdout
    assert data["ok"] is True
    entries = data["scenarios"]
    assert isinstance(entries, list)
    assert [e["name"] for e in entries] == GAE_OFFLINE
    for entry in entries:
        assert entry["ok"] and entry["skipped"] is None
        assert not any(entry["problems"].values())
        assert set(entry["rates"]) == {"baseline", "candidate"}

    rows = _table_rows(proc.stdout, "| scenario | baseline req/s |")
    assert [row[0] for row in rows] == GAE_OFFLINE
    assert all(row[-1] == "ok" for row in rows)

    cold_rows = _table_rows(proc.stdout, "| phase |")
    assert [row[0] for row in cold_rows][:6] == [
        "import framework",
        "build hello app",
        "import gae",
        "gae.wrap(app)",
        "import gae + gae.wrap(app)",
        "first request (wrapped)",
    ]
    cold = data["coldstart"]
    assert isinstance(cold, dict)
    assert cold["error"] is None
    # import gae, gae.wrap(app) and a request must not have loaded google.cloud.
    assert cold["google_modules"] == []
    assert "modules loaded after import, wrap and one request: none (ok)" in proc.stdout


@pytest.mark.emulator
def test_gae_ndb_get_runs_against_the_datastore_emulator(tmp_path: Path) -> None:
    proc, data = _run_bench(tmp_path, "--gae", *TINY, "--scenario", "gae-ndb-get")
    entries = data["scenarios"]
    assert isinstance(entries, list)
    assert [(e["name"], e["ok"], e["skipped"]) for e in entries] == [("gae-ndb-get", True, None)]
    assert [row[-1] for row in _table_rows(proc.stdout, "| scenario |")] == ["ok"]


#: The Datastore session rows and the RPCs per request each side must make.
SESSION_RPCS: dict[str, tuple[dict[str, int], dict[str, int]]] = {
    "session-read": ({}, {"lookup": 1}),
    "session-write": ({}, {"begin_transaction": 1, "lookup": 2, "commit": 1}),
    "session-untouched": ({}, {}),
}


@pytest.mark.emulator
def test_gae_session_rows_run_against_the_emulator_and_count_rpcs(tmp_path: Path) -> None:
    scenarios = [arg for name in SESSION_RPCS for arg in ("--scenario", name)]
    proc, data = _run_bench(tmp_path, "--gae", *TINY, *scenarios)
    assert "All correctness checks passed." in proc.stdout
    entries = data["scenarios"]
    assert isinstance(entries, list)
    assert [e["name"] for e in entries] == list(SESSION_RPCS)
    for entry in entries:
        assert entry["ok"] and entry["skipped"] is None, entry["problems"]
        baseline, candidate = SESSION_RPCS[entry["name"]]
        assert entry["rpcs_per_request"] == {
            "baseline": {name: float(n) for name, n in baseline.items()},
            "candidate": {name: float(n) for name, n in candidate.items()},
        }
    rows = _table_rows(proc.stdout, "| scenario | baseline req/s |")
    assert [(row[0], row[-1]) for row in rows] == [(name, "ok") for name in SESSION_RPCS]
    rpc_rows = _table_rows(proc.stdout, "| scenario | baseline | candidate |")
    assert rpc_rows == [
        ["session-read", "0", "1 (lookup 1)"],
        ["session-write", "0", "4 (begin_transaction 1, commit 1, lookup 2)"],
        ["session-untouched", "0", "0"],
    ]


def test_gae_ndb_get_is_skipped_with_a_reason_without_the_emulator(tmp_path: Path) -> None:
    env = {**os.environ, "CLOUDSDK_ROOT_DIR": str(tmp_path / "no-sdk")}
    env.pop("DATASTORE_EMULATOR_HOST", None)
    proc, data = _run_bench(tmp_path, "--gae", *TINY, "--scenario", "gae-ndb-get", env=env)
    assert data["ok"] is True
    entries = data["scenarios"]
    assert isinstance(entries, list)
    reason = entries[0]["skipped"]
    assert isinstance(reason, str) and "Datastore emulator could not start" in reason
    assert [row[-1] for row in _table_rows(proc.stdout, "| scenario |")] == ["skipped"]
    assert f"Skipped: {reason}" in proc.stdout
    assert "skipped gae-ndb-get:" in proc.stderr


def test_comparison_statistics_are_per_round() -> None:
    # Round 1: candidate takes 10 % longer (100 vs 110 µs); round 2: the machine is twice as
    # slow for both, and the ratio is the same.
    result = ScenarioResult(
        "x",
        rates={"baseline": [10_000.0, 5_000.0], "candidate": [10_000 / 1.1, 5_000 / 1.1]},
        baseline="baseline",
    )
    assert result.speedup("candidate") == pytest.approx(1 / 1.1)
    assert result.spread("candidate") == pytest.approx((1 / 1.1, 1 / 1.1))
    # Median of +10 µs and +20 µs per request.
    assert result.added_us("candidate") == pytest.approx(15.0)
