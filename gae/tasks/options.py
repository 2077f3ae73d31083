"""How a task is enqueued: queue, time, name, routing, retry limits, transactional.

``defer()`` takes these as keyword arguments with a leading underscore (``_queue``,
``_countdown`` ...), as App Engine's Python 2 ``deferred.defer`` did, so that they never
collide with the deferred function's own keyword arguments; ``@task(...)`` takes the same
names without the underscore as per-task defaults.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import typing as t

from .errors import TaskError


class _Current:
    """Route to the service/version that enqueues the task (the default)."""

    def __repr__(self) -> str:
        return "CURRENT"


#: Routing default: the service or version of the instance that calls ``defer()``.
CURRENT: t.Any = _Current()

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
_PY2_OPTIONS = {
    "_target": "use _service='worker' and _version='v2' (or leave both out: the task goes "
    "to the version that enqueued it)",
    "_url": "tasks always go to the route gae.tasks registers (Tasks(app, url=...))",
    "_retry_options": "use _retries=N and _age_limit=seconds; back-off is the queue's "
    "retry_parameters in queue.yaml",
    "_headers": "pass the values as arguments of the deferred function",
}


@dataclasses.dataclass(frozen=True)
class TaskOptions:
    """Options for one task; ``None`` means "the default" (see :func:`gae.tasks.defer`)."""

    queue: str | None = None
    countdown: float | None = None
    eta: dt.datetime | None = None
    name: str | None = None
    service: t.Any = CURRENT
    version: t.Any = CURRENT
    retries: int | None = None
    age_limit: float | None = None
    transactional: bool = False

    def __post_init__(self) -> None:
        if self.countdown is not None and self.eta is not None:
            raise TaskError("Give a task a countdown or an eta, not both.")
        if self.countdown is not None and self.countdown < 0:
            raise TaskError(f"countdown must be 0 or more seconds, not {self.countdown!r}.")
        if self.name is not None and not _NAME.match(self.name):
            raise TaskError(
                f"Task name {self.name!r} is not valid: use 1-500 letters, digits, '-' or "
                "'_' (hash longer identifiers, e.g. with hashlib.sha256(...).hexdigest())."
            )
        if self.retries is not None and self.retries < 0:
            raise TaskError(f"retries must be 0 or more, not {self.retries!r}.")

    def merged(self, **changes: t.Any) -> TaskOptions:
        """These options with ``changes`` applied (``None`` values are ignored, except for
        ``service`` and ``version``, where ``None`` means "the queue's default")."""
        given = {
            key: value
            for key, value in changes.items()
            if value is not None or key in {"service", "version"}
        }
        return dataclasses.replace(self, **given)


_FIELDS = {f.name for f in dataclasses.fields(TaskOptions)}


def split_options(
    kwargs: dict[str, t.Any], base: TaskOptions | None = None
) -> tuple[TaskOptions, dict[str, t.Any]]:
    """Separate ``_option=`` keywords from the deferred function's own keyword arguments."""
    changes: dict[str, t.Any] = {}
    rest: dict[str, t.Any] = {}
    for key, value in kwargs.items():
        if key in _PY2_OPTIONS:
            raise TaskError(f"{key} is a Python 2 deferred option: {_PY2_OPTIONS[key]}.")
        if key.startswith("_") and key[1:] in _FIELDS:
            changes[key[1:]] = value
        else:
            rest[key] = value
    options = (base or TaskOptions()).merged(**changes) if changes else (base or TaskOptions())
    return options, rest
