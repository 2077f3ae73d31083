"""Running one task request: verify, decode, call, and answer Cloud Tasks.

The answer decides what Cloud Tasks does next: 2xx ends the task; any other status makes
it retry with the queue's back-off. So an exception is a 500 (never 503, which Cloud
Tasks reads as "App Engine overloaded" and throttles the queue for), and a
:class:`PermanentTaskFailure`, an exhausted ``retries``/``age_limit`` or a payload that
can never run are logged as errors and answered 200: retrying them cannot help.
"""

from __future__ import annotations

import contextlib
import logging
import time
import typing as t
import zlib
from contextvars import ContextVar

from framework import request
from gae.headers import AppEngineHeaders
from gae.ndb import ensure_context, ndb_in_use

from .errors import PermanentTaskFailure
from .payload import Call, decode_arguments, decode_call, resolve_function

logger = logging.getLogger("gae.tasks")


class TaskInfo(t.NamedTuple):
    """The task being run (see :func:`current_task`)."""

    name: str
    queue: str
    retry_count: int
    function: str
    enqueued_at: float | None
    enqueued_trace: str | None


_current: ContextVar[TaskInfo | None] = ContextVar("gae.tasks.current", default=None)


def current_task() -> TaskInfo | None:
    """The task this code runs in, or ``None`` outside a task."""
    return _current.get()


def _text(body: str, status: int) -> tuple[str, int, dict[str, str]]:
    return body, status, {"Content-Type": "text/plain; charset=utf-8"}


def load_call(body: bytes, ndb_scope: t.Callable[[], None] = lambda: None) -> tuple[Call, t.Any]:
    """The :class:`Call` in a verified request body, and the stored payload's key if the
    payload was too large for the body (deleted once the task has finished)."""
    from itsdangerous import BadSignature

    from .defer import STORED
    from .extension import Tasks

    try:
        document = Tasks.current().signer().unsign(body)
    except BadSignature:
        raise PermanentTaskFailure(
            "The task payload's signature does not match SECRET_KEY (nor any of "
            "SECRET_KEY_FALLBACKS): it was enqueued under a key since retired, or forged."
        ) from None
    call = decode_call(document)
    if call.path != STORED:
        return call, None
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    from .models import payload_model

    key = ndb.Key(payload_model(), str(call.args[0]))
    ndb_scope()
    stored = key.get()
    if stored is None:
        raise PermanentTaskFailure(
            f"The stored payload {key!r} is gone: this task already finished (a repeated "
            "delivery) or the payload was deleted."
        )
    return decode_call(zlib.decompress(stored.data)), key


def run_task_request() -> t.Any:
    """The view behind the task route (wrapped in :func:`gae.headers.task_only`)."""
    headers = getattr(request, "appengine", None) or AppEngineHeaders.from_environ(request.environ)
    name = headers.task_name or "(unnamed)"
    queue = (headers.queue_name or "").rsplit("/", 1)[-1]  # the emulator sends a full path
    retry = headers.task_retry_count or 0
    with contextlib.ExitStack() as stack:
        entered: list[bool] = []

        def ndb_scope() -> None:
            # An ndb context for the run once ndb is imported (the app's models, or a
            # payload holding keys); gae.wrap's per-request one is reused when open.
            if ndb_in_use() and not entered:
                stack.enter_context(ensure_context())
                entered.append(True)

        ndb_scope()
        return _run(request.get_data(cache=False), name, queue, retry, ndb_scope)


def _run(body: bytes, name: str, queue: str, retry: int, ndb_scope: t.Callable[[], None]) -> t.Any:
    stored_key = None
    try:
        call, stored_key = load_call(body, ndb_scope)
        info = TaskInfo(name, queue, retry, call.path, call.enqueued_at, call.trace)
        logger.info(
            "Task %s (queue %s, retry %d) running %s, enqueued by trace %s",
            name,
            queue,
            retry,
            call.path,
            call.trace or "-",
        )
        function = resolve_function(call.path)
        ndb_scope()  # importing the function may have imported ndb (its models)
        args, kwargs = decode_arguments(call)
    except PermanentTaskFailure as error:
        logger.error("Task %s (queue %s) dropped: %s", name, queue, error)
        _forget(stored_key)
        return _text(f"dropped: {error}\n", 200)
    token = _current.set(info)
    try:
        function(*args, **kwargs)
    except PermanentTaskFailure as error:
        logger.error(
            "Task %s (queue %s, retry %d) %s failed permanently and will not be retried: %s",
            name,
            queue,
            retry,
            call.path,
            error,
            exc_info=True,
        )
        _forget(stored_key)
        return _text(f"failed permanently: {error}\n", 200)
    except Exception as error:
        if _exhausted(call, retry):
            logger.error(
                "Task %s (queue %s) %s failed on retry %d and has no retries left "
                "(retries=%s, age_limit=%s): giving up.",
                name,
                queue,
                call.path,
                retry,
                call.retries,
                call.age_limit,
                exc_info=True,
            )
            _forget(stored_key)
            return _text("failed; no retries left\n", 200)
        logger.exception(
            "Task %s (queue %s, retry %d) %s failed; Cloud Tasks will retry it",
            name,
            queue,
            retry,
            call.path,
        )
        return _text(f"failed: {type(error).__name__}; will be retried\n", 500)
    finally:
        _current.reset(token)
    _forget(stored_key)
    return _text("ok\n", 200)


def _exhausted(call: Call, retry: int) -> bool:
    if call.retries is not None and retry >= call.retries:
        return True
    return (
        call.age_limit is not None
        and call.enqueued_at is not None
        and time.time() - call.enqueued_at >= call.age_limit
    )


def _forget(stored_key: t.Any) -> None:
    if stored_key is not None:
        with contextlib.suppress(Exception):
            stored_key.delete()
