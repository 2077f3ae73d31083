"""Prints the extension suites' table (passed/total on Flask and on framework)."""

from __future__ import annotations

import pytest

from .test_extension_suites import RESULTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("Flask extensions' own test suites")
    for name, (theirs, ours) in RESULTS.items():
        terminalreporter.write_line(
            f"{name:18} on Flask 3.1.3: {theirs.summary():28} on framework: {ours.summary()}"
        )
