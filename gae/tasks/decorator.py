"""``@task``: a function meant to run in a task, with its own defaults.

::

    @task(queue="mail", retries=5)
    def send_welcome(user_key): ...

    send_welcome.defer(user.key)                 # queue "mail", at most 5 retries
    send_welcome.defer(user.key, _countdown=60)  # call options override the defaults
    send_welcome(user.key)                       # still a plain call, here and now
"""

from __future__ import annotations

import functools
import typing as t

from .options import TaskOptions, split_options

if t.TYPE_CHECKING:
    from .defer import TaskHandle

P = t.ParamSpec("P")
R = t.TypeVar("R")


class Task(t.Generic[P, R]):
    """A function with :meth:`defer`; calling it calls the function."""

    #: Recognised by the task handler as callable from a payload.
    gae_task = True

    def __init__(self, fn: t.Callable[P, R], options: TaskOptions) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.options = options

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def defer(self, *args: t.Any, **kwargs: t.Any) -> TaskHandle:
        """Enqueue ``fn(*args, **kwargs)`` with this task's defaults (``_option=`` overrides)."""
        from .defer import enqueue

        options, rest = split_options(kwargs, self.options)
        return enqueue(self, args, rest, options)

    def __repr__(self) -> str:
        return f"<task {self.__module__}.{getattr(self, '__qualname__', '?')}>"


@t.overload
def task(fn: t.Callable[P, R], /) -> Task[P, R]: ...


@t.overload
def task(
    *,
    queue: str | None = None,
    countdown: float | None = None,
    retries: int | None = None,
    age_limit: float | None = None,
    service: t.Any = ...,
    version: t.Any = ...,
) -> t.Callable[[t.Callable[P, R]], Task[P, R]]: ...


def task(fn: t.Any = None, /, **defaults: t.Any) -> t.Any:
    """Make ``fn`` a :class:`Task` (``@task`` or ``@task(queue=..., retries=...)``).

    Defaults: ``queue``, ``countdown``, ``retries``, ``age_limit``, ``service``,
    ``version`` (the options of :func:`gae.tasks.defer`, without the underscore).
    """
    allowed = {"queue", "countdown", "retries", "age_limit", "service", "version"}
    unknown = set(defaults) - allowed
    if unknown:
        raise TypeError(
            f"@task got unknown defaults {sorted(unknown)}; it takes {sorted(allowed)}."
        )
    options = TaskOptions().merged(**defaults)
    if fn is not None:
        return Task(fn, options)
    return lambda f: Task(f, options)
