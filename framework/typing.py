"""Type aliases for annotating views, hooks and handlers, named as in ``flask.typing``.

The aliases are real runtime objects (``typing.Union`` with forward references) rather than
strings, so they also work in code that does not use ``from __future__ import annotations``
and with tools that resolve hints at runtime. The ``T_*`` type variables are bound to the
callable aliases so that registration decorators return the decorated function's own type.
"""

from __future__ import annotations

import typing as t
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator, Mapping, Sequence

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from werkzeug.datastructures import Headers

    from .wrappers import Response

# ``typing.Union`` instead of ``X | Y``: several members are forward references that only
# exist for type checkers, and ``|`` cannot combine strings at runtime.

ResponseValue = t.Union[
    "Response",
    str,
    bytes,
    list[t.Any],
    Mapping[str, t.Any],
    Iterator[str],
    Iterator[bytes],
    AsyncIterable[str],
    AsyncIterable[bytes],
]
"""What a view may return as the body: a response, text, bytes, JSON-able data or a stream."""

StatusCode = int

HeaderName = str
HeaderValue = t.Union[str, list[str], tuple[str, ...]]  # noqa: UP007
HeadersValue = t.Union[
    "Headers",
    Mapping[HeaderName, HeaderValue],
    Sequence[tuple[HeaderName, HeaderValue]],
]

ResponseReturnValue = t.Union[
    ResponseValue,
    tuple[ResponseValue, HeadersValue],
    tuple[ResponseValue, StatusCode],
    tuple[ResponseValue, StatusCode, HeadersValue],
    "WSGIApplication",
]
"""Everything a view function may return; ``make_response`` turns it into a response."""

ResponseClass = t.TypeVar("ResponseClass", bound="Response")

AppOrBlueprintKey = t.Optional[str]  # noqa: UP045
"""``None`` for the app itself, else a blueprint's name, as used in hook registries."""

AfterRequestCallable = t.Union[  # noqa: UP007
    Callable[[ResponseClass], ResponseClass],
    Callable[[ResponseClass], Awaitable[ResponseClass]],
]
BeforeFirstRequestCallable = t.Union[  # noqa: UP007
    Callable[[], None], Callable[[], Awaitable[None]]
]
BeforeRequestCallable = t.Union[  # noqa: UP007
    Callable[[], t.Optional[ResponseReturnValue]],  # noqa: UP045
    Callable[[], Awaitable[t.Optional[ResponseReturnValue]]],  # noqa: UP045
]
ShellContextProcessorCallable = Callable[[], dict[str, t.Any]]
TeardownCallable = t.Union[  # noqa: UP007
    Callable[[t.Optional[BaseException]], None],  # noqa: UP045
    Callable[[t.Optional[BaseException]], Awaitable[None]],  # noqa: UP045
]
TemplateContextProcessorCallable = t.Union[  # noqa: UP007
    Callable[[], dict[str, t.Any]],
    Callable[[], Awaitable[dict[str, t.Any]]],
]
TemplateFilterCallable = Callable[..., t.Any]
TemplateGlobalCallable = Callable[..., t.Any]
TemplateTestCallable = Callable[..., bool]
URLDefaultCallable = Callable[[str, dict[str, t.Any]], None]
URLValuePreprocessorCallable = Callable[
    [t.Optional[str], t.Optional[dict[str, t.Any]]],  # noqa: UP045
    None,
]

# Error handlers take the exception (or a werkzeug HTTPException); ``Any`` because a handler
# registered for one exception class is typed with that class as its parameter.
ErrorHandlerCallable = t.Union[  # noqa: UP007
    Callable[[t.Any], ResponseReturnValue],
    Callable[[t.Any], Awaitable[ResponseReturnValue]],
]

RouteCallable = t.Union[  # noqa: UP007
    Callable[..., ResponseReturnValue],
    Callable[..., Awaitable[ResponseReturnValue]],
]

# Decorators (``@app.route``, ``@app.before_request``...) are typed ``(f: T_x) -> T_x`` with
# these, so the decorated function keeps its exact signature for callers and type checkers.
T_after_request = t.TypeVar("T_after_request", bound=AfterRequestCallable[t.Any])
T_before_request = t.TypeVar("T_before_request", bound=BeforeRequestCallable)
T_error_handler = t.TypeVar("T_error_handler", bound=ErrorHandlerCallable)
T_route = t.TypeVar("T_route", bound=RouteCallable)
T_shell_context_processor = t.TypeVar(
    "T_shell_context_processor", bound=ShellContextProcessorCallable
)
T_teardown = t.TypeVar("T_teardown", bound=TeardownCallable)
T_template_context_processor = t.TypeVar(
    "T_template_context_processor", bound=TemplateContextProcessorCallable
)
T_template_filter = t.TypeVar("T_template_filter", bound=TemplateFilterCallable)
T_template_global = t.TypeVar("T_template_global", bound=TemplateGlobalCallable)
T_template_test = t.TypeVar("T_template_test", bound=TemplateTestCallable)
T_url_defaults = t.TypeVar("T_url_defaults", bound=URLDefaultCallable)
T_url_value_preprocessor = t.TypeVar("T_url_value_preprocessor", bound=URLValuePreprocessorCallable)
