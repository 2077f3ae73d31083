"""The WSGI target the HTTP benchmark's servers load: ``bench.http_app:app``.

Which app it is comes from the environment the benchmark starts the server with:
``BENCH_HTTP_FRAMEWORK`` (``flask`` or ``framework``) and ``BENCH_HTTP_SCENARIO`` (a name
in :data:`bench.scenarios.SCENARIOS`). The app is the scenario's own, built by the same
code the in-process benchmark uses, so both benchmarks measure the same views.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from bench.http_servers import FRAMEWORK_VAR, SCENARIO_VAR
from bench.scenarios import SCENARIOS


def build() -> Any:
    """The scenario's app on the framework named by the environment."""
    framework = os.environ.get(FRAMEWORK_VAR, "")
    name = os.environ.get(SCENARIO_VAR, "")
    if framework not in {"flask", "framework"}:
        raise RuntimeError(f"Set {FRAMEWORK_VAR} to 'flask' or 'framework', not {framework!r}.")
    if name not in SCENARIOS:
        raise RuntimeError(f"Set {SCENARIO_VAR} to one of {', '.join(SCENARIOS)}, not {name!r}.")
    app, _spec = SCENARIOS[name](importlib.import_module(framework))
    return app


app = build()
