"""Fuzz suite plumbing: how many requests were tried, printed at the end of the run.

`make test` runs a bounded number of examples per test; `make fuzz` (``FUZZ_EXAMPLES``)
runs many more. Set ``FUZZ_STATS=path`` to also get the counts as JSON.
"""

from __future__ import annotations

import json
import os

import pytest

from .harness import REQUESTS, STATUSES

_seconds: list[float] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid.startswith("tests/fuzz/"):
        _seconds.append(report.duration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    total = sum(REQUESTS.values())
    if not total:
        return
    seconds = sum(_seconds)
    by_target = ", ".join(f"{name}: {count}" for name, count in sorted(REQUESTS.items()))
    examples = os.environ.get("FUZZ_EXAMPLES", "default")
    terminalreporter.write_sep("-", "fuzz")
    terminalreporter.write_line(
        f"fuzz: {total} requests tried ({by_target}) in {seconds:.1f} s; FUZZ_EXAMPLES={examples}"
    )
    for name, statuses in sorted(STATUSES.items()):
        shown = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
        terminalreporter.write_line(f"fuzz: {name} responses by status: {shown}")
    stats = os.environ.get("FUZZ_STATS")
    if stats:
        with open(stats, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "requests": dict(REQUESTS),
                    "total": total,
                    "seconds": seconds,
                    "examples": examples,
                    "statuses": {k: dict(v) for k, v in STATUSES.items()},
                },
                f,
            )
