"""App Engine facts the checks rely on: the Python runtimes and the instance classes.

Kept as data, with where and when it was read, so that updating it after Google changes
the support schedule is an edit of one table (and its test), not of the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Where the runtime table comes from, and when it was last compared with it.
RUNTIMES_SOURCE = (
    "https://cloud.google.com/appengine/docs/standard/lifecycle/support-schedule#python"
)
RUNTIMES_READ_ON = "2026-12-05"


@dataclass(frozen=True)
class Runtime:
    """One ``runtime:`` value of the standard environment."""

    name: str
    python: tuple[int, int]
    #: "ga", "preview" (deployable, no SLA yet) or "ended" (end of support: new deploys
    #: are refused).
    stage: str


#: App Engine standard's Python 3 runtimes, newest first.
PYTHON_RUNTIMES = (
    Runtime("python314", (3, 14), "preview"),
    Runtime("python313", (3, 13), "ga"),
    Runtime("python312", (3, 12), "ga"),
    Runtime("python311", (3, 11), "ga"),
    Runtime("python310", (3, 10), "ga"),
    Runtime("python39", (3, 9), "ended"),
    Runtime("python38", (3, 8), "ended"),
    Runtime("python37", (3, 7), "ended"),
    Runtime("python27", (2, 7), "ended"),
)
#: The oldest Python this framework runs on (pyproject.toml's requires-python).
MIN_PYTHON = (3, 11)

#: Runtimes App Engine deploys today.
RUNTIMES = tuple(r.name for r in PYTHON_RUNTIMES if r.stage != "ended")
#: Runtimes this framework runs on (deployable and Python 3.11 or newer).
FRAMEWORK_RUNTIMES = tuple(
    r.name for r in PYTHON_RUNTIMES if r.stage != "ended" and r.python >= MIN_PYTHON
)[::-1]
#: Runtimes past their end of support.
RETIRED_RUNTIMES = frozenset(r.name for r in PYTHON_RUNTIMES if r.stage == "ended")


def runtime(name: str) -> Runtime | None:
    """The runtime called ``name``, if App Engine has (or had) one."""
    return next((r for r in PYTHON_RUNTIMES if r.name == name), None)


#: Instance classes by scaling type, with memory in MB (F: automatic; B: basic/manual).
F_CLASSES = {"F1": 384, "F2": 768, "F4": 1536, "F4_1G": 3072}
B_CLASSES = {"B1": 384, "B2": 768, "B4": 1536, "B4_1G": 3072, "B8": 3072}
INSTANCE_CLASSES = {"automatic": F_CLASSES, "basic": B_CLASSES, "manual": B_CLASSES}
DEFAULT_INSTANCE_CLASS = {"automatic": "F1", "basic": "B2", "manual": "B2"}
#: Most server worker processes worth running per class (each holds a copy of the app).
MAX_WORKERS = {"F1": 2, "F2": 4, "F4": 8, "F4_1G": 8, "B1": 2, "B2": 4, "B4": 8, "B4_1G": 8}
#: App Engine's max_concurrent_requests when automatic_scaling does not set it.
DEFAULT_MAX_CONCURRENT_REQUESTS = 10
