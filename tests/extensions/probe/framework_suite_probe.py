"""A pytest plugin for the extension suites' child runs: records, at the end of the
session, whether ``flask`` was framework and whether any module of the real Flask was
loaded, so a run "on framework" that silently used Flask cannot pass."""

from __future__ import annotations

import json
import os
import sys

import pytest


def pytest_sessionfinish(session: pytest.Session) -> None:
    framework = sys.modules.get("framework")
    flask = sys.modules.get("flask")
    real = sorted(
        name
        for name, module in list(sys.modules.items())
        if (name == "flask" or name.startswith("flask."))
        and module is not None
        and not getattr(module, "__name__", "").startswith("framework")
    )
    report = {
        "flask_is_framework": flask is not None and flask is framework,
        "real_flask_modules": real,
        "flask_file": getattr(flask, "__file__", None),
    }
    path = os.environ.get("SUITE_PROBE_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(report, f)
