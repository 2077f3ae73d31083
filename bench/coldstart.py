"""Cold start: import + build the hello app + one request, each in a fresh interpreter."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHILD = Path(__file__).resolve().with_name("coldstart_child.py")
ROOT = CHILD.parent.parent

#: Environment variables that would change what a child measures; removed for the children.
_DISTORTING_ENV = (
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONDEVMODE",
    "PYTHONTRACEMALLOC",
    "PYTHONMALLOCSTATS",
    "PYTHONASYNCIODEBUG",
    "PYTHONINSPECT",
    # Without bytecode caches one side would compile from source on every run while the
    # other loads the .pyc files its installer wrote: both get the same fresh cache instead.
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
)

#: Phase name -> index in a ``Sample``'s fields, in report order.
PHASES = ("import", "build app", "first request", "import + app + request", "process wall")


@dataclass(frozen=True)
class Sample:
    """One cold start, in seconds."""

    import_s: float
    build_s: float
    request_s: float
    wall_s: float

    def phases(self) -> tuple[float, float, float, float, float]:
        total = self.import_s + self.build_s + self.request_s
        return (self.import_s, self.build_s, self.request_s, total, self.wall_s)


class ColdStartError(RuntimeError):
    """A child process failed to import, build or serve."""


def run_child(module: str, pycache: str | None = None) -> Sample:
    """Start a fresh interpreter (the same one as ours, no ``-X importtime``) and time it.

    ``pycache`` is the bytecode cache folder (``PYTHONPYCACHEPREFIX``) all children share.
    """
    env = {k: v for k, v in os.environ.items() if k not in _DISTORTING_ENV}
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = pycache
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(CHILD), module, str(ROOT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ColdStartError(
            f"The cold-start child for {module!r} exited with {proc.returncode}: {tail}"
        )
    import_s, build_s, request_s = (float(x) for x in proc.stdout.split())
    return Sample(import_s, build_s, request_s, wall)


@dataclass
class ColdStartResult:
    """Medians per module and phase, in milliseconds, plus the raw samples."""

    runs: int
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    error: str | None = None

    def median_ms(self, module: str) -> list[float]:
        per_phase = zip(*(s.phases() for s in self.samples[module]), strict=True)
        return [statistics.median(values) * 1000 for values in per_phase]


def measure(modules: dict[str, str], runs: int) -> ColdStartResult:
    """Run ``runs`` cold starts per module, interleaved (A B, B A, ...), after one warm-up each.

    ``modules`` maps a report label to the module to import. The warm-up run (discarded)
    writes the bytecode caches, so every timed run sees the same disk state, as a deployed
    app does.
    """
    result = ColdStartResult(runs=runs, samples={label: [] for label in modules})
    labels = list(modules)
    with tempfile.TemporaryDirectory(prefix="coldstart-pyc-") as pycache:
        try:
            for module in modules.values():
                run_child(module, pycache)
            for i in range(runs):
                for label in labels if i % 2 == 0 else labels[::-1]:
                    result.samples[label].append(run_child(modules[label], pycache))
        except ColdStartError as exc:
            result.error = str(exc)
    return result
