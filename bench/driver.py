"""Drive a WSGI app in-process: build the environ once, replay it, check and time responses."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from types import TracebackType
from typing import Any
from wsgiref.types import WSGIEnvironment

from werkzeug.test import EnvironBuilder

from bench.scenarios import RequestSpec

#: Aim for this many seconds between two clock reads in a time slice.
BATCH_SECONDS = 0.001

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _write(data: bytes) -> None:  # the legacy write() callable; our apps never use it
    pass


def _discard_start_response(
    status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
) -> Callable[[bytes], object]:
    return _write


def make_environ(spec: RequestSpec) -> WSGIEnvironment:
    """Build the WSGI environ for ``spec`` once; callers copy it per request."""
    builder = EnvironBuilder(
        path=spec.path,
        method=spec.method,
        data=spec.data,
        content_type=spec.content_type,
        headers=list(spec.headers.items()),
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def make_caller(app: Any, spec: RequestSpec) -> Callable[[], None]:
    """Return a zero-argument function that sends one request to ``app`` and drains it.

    The environ is built once and shallow-copied per request; a request with a body gets a
    fresh ``BytesIO`` as ``wsgi.input`` each time. The response iterable is consumed and
    closed, as a WSGI server would.
    """
    base = make_environ(spec)
    body = spec.data
    start_response = _discard_start_response

    if body is None:

        def call() -> None:
            result = app(base.copy(), start_response)
            try:
                for _chunk in result:
                    pass
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

        return call

    def call_with_body() -> None:
        environ = base.copy()
        environ["wsgi.input"] = BytesIO(body)
        result = app(environ, start_response)
        try:
            for _chunk in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    return call_with_body


def check(app: Any, spec: RequestSpec) -> list[str]:
    """Send ``spec`` to ``app`` once; return the problems with the response (empty if OK)."""
    captured: dict[str, Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        captured["status"] = status
        captured["headers"] = headers
        return _write

    environ = make_environ(spec)
    if spec.data is not None:
        environ["wsgi.input"] = BytesIO(spec.data)
    try:
        result = app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except Exception as exc:
        return [f"the app raised {type(exc).__name__}: {exc}"]
    if "status" not in captured:
        return ["the app returned without calling start_response"]
    status = int(str(captured["status"]).split(" ", 1)[0])
    headers: list[tuple[str, str]] = captured["headers"]
    return spec.problems(status, headers, body)


@dataclass(frozen=True)
class Slice:
    """The result of one timed slice."""

    requests: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def time_slice(call: Callable[[], None], seconds: float, batch_size: int) -> Slice:
    """Call ``call`` in batches until ``seconds`` have elapsed; return the count and time."""
    gc.collect()
    perf_counter = time.perf_counter
    batch = range(batch_size)
    done = 0
    start = perf_counter()
    deadline = start + seconds
    while True:
        for _ in batch:
            call()
        done += batch_size
        now = perf_counter()
        if now >= deadline:
            return Slice(done, now - start)


def warm_up(call: Callable[[], None], requests: int = 200) -> int:
    """Fill caches (lazy imports, url map compilation, ...); return a batch size for timing.

    The batch size makes one batch last about ``BATCH_SECONDS``, so reading the clock costs
    nothing measurable and a slice overshoots its length by little.
    """
    for _ in range(requests):
        call()
    start = time.perf_counter()
    for _ in range(requests):
        call()
    per_call = (time.perf_counter() - start) / requests
    return max(1, round(BATCH_SECONDS / per_call)) if per_call > 0 else 100
