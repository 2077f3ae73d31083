"""Headers App Engine sets on each request, trusted only where App Engine sets them.

On App Engine the front end removes client-sent ``X-Appengine-*`` headers and sets its own,
so they can be believed there. Anywhere else anyone can send them: they are ignored unless
the app opts in for development (``GAE_TRUST_HEADERS = True``).
"""

from __future__ import annotations

import re
import typing as t
from functools import cache, wraps
from inspect import iscoroutinefunction

from framework import abort, request

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

#: WSGI environ key holding whether this request's App Engine headers are trusted.
TRUSTED_KEY = "gae.trusted"

_CLOUD_TRACE = r"^([0-9a-fA-F]{32})(?:/([0-9]+))?(?:;o=([01]))?"
_TRACEPARENT = r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$"


@cache
def _pattern(source: str) -> re.Pattern[str]:
    # Compiled on first use rather than at import: import time is cold-start time.
    return re.compile(source)


def _small_int(text: str | None, max_digits: int = 20) -> int | None:
    """``text`` as an int if it is 1 to ``max_digits`` ASCII digits, else ``None``.

    ``str.isdigit`` accepts "²" (which ``int`` refuses) and ``int`` refuses more than
    4,300 digits: header values are checked here instead of failing the request.
    """
    if text and len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


class Trace(t.NamedTuple):
    """A request's trace id (32 hex digits), span id and sampling flag."""

    trace_id: str
    span_id: str | None
    sampled: bool


def parse_trace(environ: t.Mapping[str, t.Any]) -> Trace | None:
    """The trace from ``X-Cloud-Trace-Context`` or, failing that, W3C ``traceparent``."""
    header = environ.get("HTTP_X_CLOUD_TRACE_CONTEXT")
    if header:
        match = _pattern(_CLOUD_TRACE).match(header.strip())
        if match:
            trace_id, span, flag = match.groups()
            # Cloud Logging wants the span id as 16 hex digits; the header has a decimal
            # (anyone can send this header, so a number of any length may arrive).
            number = _small_int(span)
            span_id = f"{number:016x}" if number is not None and number < 2**64 else None
            return Trace(trace_id.lower(), span_id, flag == "1")
    header = environ.get("HTTP_TRACEPARENT")
    if header:
        match = _pattern(_TRACEPARENT).match(header.strip())
        if match and match.group(1) != "0" * 32:
            trace_id, span_id, flags = match.groups()
            return Trace(trace_id, span_id, bool(int(flags, 16) & 1))
    return None


class AppEngineHeaders(t.NamedTuple):
    """What App Engine tells the app about a request (all empty when not trusted)."""

    trusted: bool
    trace: Trace | None = None
    is_cron: bool = False
    queue_name: str | None = None
    task_name: str | None = None
    task_retry_count: int | None = None
    user_ip: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None

    @property
    def trace_id(self) -> str | None:
        """The trace id, for correlating logs."""
        return self.trace.trace_id if self.trace is not None else None

    @property
    def is_task(self) -> bool:
        """Whether Cloud Tasks (or a push queue) sent the request."""
        return self.queue_name is not None

    @classmethod
    def from_environ(cls, environ: t.Mapping[str, t.Any]) -> AppEngineHeaders:
        """Read the headers of one request, honouring :data:`TRUSTED_KEY`."""
        if not environ.get(TRUSTED_KEY):
            return _UNTRUSTED
        retries = environ.get("HTTP_X_APPENGINE_TASKRETRYCOUNT")
        country = environ.get("HTTP_X_APPENGINE_COUNTRY")
        return cls(
            trusted=True,
            trace=parse_trace(environ),
            is_cron=environ.get("HTTP_X_APPENGINE_CRON") == "true",
            queue_name=environ.get("HTTP_X_APPENGINE_QUEUENAME") or None,
            task_name=environ.get("HTTP_X_APPENGINE_TASKNAME") or None,
            task_retry_count=_small_int(retries),
            user_ip=environ.get("HTTP_X_APPENGINE_USER_IP") or None,
            # "ZZ" is App Engine's "unknown".
            country=country if country and country != "ZZ" else None,
            region=environ.get("HTTP_X_APPENGINE_REGION") or None,
            city=environ.get("HTTP_X_APPENGINE_CITY") or None,
        )


_UNTRUSTED = AppEngineHeaders(trusted=False)


class AppEngineRequestMixin:
    """Adds :attr:`appengine` to the app's request class."""

    environ: t.Any

    @property
    def appengine(self) -> AppEngineHeaders:
        """This request's App Engine headers (empty off App Engine unless trusted)."""
        cached = self.environ.get("gae.headers")
        if cached is None:
            cached = AppEngineHeaders.from_environ(self.environ)
            self.environ["gae.headers"] = cached
        return t.cast(AppEngineHeaders, cached)


def _guard(check: t.Callable[[AppEngineHeaders], bool], message: str) -> t.Callable[[F], F]:
    def decorator(view: F) -> F:
        if iscoroutinefunction(view):

            @wraps(view)
            async def async_wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
                if not check(_headers()):
                    abort(403, message)
                return await view(*args, **kwargs)

            return t.cast(F, async_wrapper)

        @wraps(view)
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            if not check(_headers()):
                abort(403, message)
            return view(*args, **kwargs)

        return t.cast(F, wrapper)

    return decorator


def _headers() -> AppEngineHeaders:
    info = getattr(request, "appengine", None)
    if isinstance(info, AppEngineHeaders):
        return info
    return AppEngineHeaders.from_environ(request.environ)


#: Only App Engine Cron may call the view; anything else gets 403.
cron_only = _guard(
    lambda h: h.is_cron,
    "This URL is only for App Engine Cron (the X-Appengine-Cron header set by App Engine).",
)

#: Only Cloud Tasks / task queues may call the view; anything else gets 403.
task_only = _guard(
    lambda h: h.is_task,
    "This URL is only for Cloud Tasks (the X-AppEngine-QueueName header set by App Engine).",
)
