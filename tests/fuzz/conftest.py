"""Fuzz suite plumbing: how many requests were tried, printed at the end of the run.

`make test` runs a bounded number of examples per test; `make fuzz` (``FUZZ_EXAMPLES``)
runs many more. Set ``FUZZ_STATS=path`` to also get the counts as JSON.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from .harness import REQUESTS, STATUSES

_started: list[float] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    _started.append(time.monotonic())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    total = sum(REQUESTS.values())
    if not total:
        return
    elapsed = time.monotonic() - _started[0] if _started else 0.0
    by_target = ", ".join(f"{name}: {count}" for name, count in sorted(REQUESTS.items()))
    examples = os.environ.get("FUZZ_EXAMPLES", "default")
    terminalreporter.write_sep("-", "fuzz")
    terminalreporter.write_line(
        f"fuzz: {total} requests tried ({by_target}); FUZZ_EXAMPLES={examples}; "
        f"session {elapsed:.1f} s"
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
                    "seconds": elapsed,
                    "statuses": {k: dict(v) for k, v in STATUSES.items()},
                },
                f,
            )
