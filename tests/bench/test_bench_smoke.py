"""Smoke test for the benchmark harness: it runs, checks correctness, reports every scenario.

Timings are never asserted: the machine is noisy and speed is not what this test is about.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scenarios import RequestSpec

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"hello", "json", "form", "404", "template", "session", "session-untouched"}


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
