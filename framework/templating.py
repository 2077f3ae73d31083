"""Rendering templates: ``render_template``, ``render_template_string`` and streaming.

Templates are rendered with the application's Jinja environment, after context processors
have added their values, and the ``before_render_template``/``template_rendered`` signals
are sent when someone listens.
"""

from __future__ import annotations

import typing as t

from . import signals
from .globals import _cv_app, _cv_request
from .helpers import get_template_attribute, stream_with_context

if t.TYPE_CHECKING:
    from jinja2 import Template

    from .app import Flask
    from .jinja_env import DispatchingJinjaLoader, Environment

__all__ = [
    "DispatchingJinjaLoader",
    "Environment",
    "get_template_attribute",
    "render_template",
    "render_template_string",
    "stream_template",
    "stream_template_string",
]


def __getattr__(name: str) -> t.Any:
    # The environment classes import jinja2; load them only when asked for.
    if name in {"Environment", "DispatchingJinjaLoader"}:
        from . import jinja_env

        return getattr(jinja_env, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _current_app(what: str) -> Flask:
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError(
            f"'{what}' needs an application context: call it from a view, or inside "
            "'with app.app_context():'."
        )
    return ctx.app


def _default_template_ctx_processor() -> dict[str, t.Any]:
    """``g`` and ``request`` for every template's context (the app's first processor)."""
    rv: dict[str, t.Any] = {}
    app_ctx = _cv_app.get(None)
    if app_ctx is not None:
        rv["g"] = app_ctx.g
    req_ctx = _cv_request.get(None)
    if req_ctx is not None:
        rv["request"] = req_ctx.request
    return rv


def _prepare(app: Flask, template: Template, context: dict[str, t.Any]) -> None:
    app.update_template_context(context)
    if signals.before_render_template.receivers:
        signals.before_render_template.send(
            app, _async_wrapper=app.ensure_sync, template=template, context=context
        )


def _render(app: Flask, template: Template, context: dict[str, t.Any]) -> str:
    _prepare(app, template, context)
    rv = template.render(context)
    if signals.template_rendered.receivers:
        signals.template_rendered.send(
            app, _async_wrapper=app.ensure_sync, template=template, context=context
        )
    return rv


def render_template(
    template_name_or_list: str | Template | list[str | Template], **context: t.Any
) -> str:
    """Render a template file (the first existing one, given a list) with ``context``."""
    app = _current_app("render_template")
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _render(app, template, context)


def render_template_string(source: str, **context: t.Any) -> str:
    """Render a template given as a string (autoescaped) with ``context``."""
    app = _current_app("render_template_string")
    template = app.jinja_env.from_string(source)
    return _render(app, template, context)


def _stream(app: Flask, template: Template, context: dict[str, t.Any]) -> t.Iterator[str]:
    _prepare(app, template, context)

    def generate() -> t.Iterator[str]:
        yield from template.generate(context)
        if signals.template_rendered.receivers:
            signals.template_rendered.send(
                app, _async_wrapper=app.ensure_sync, template=template, context=context
            )

    rv = generate()
    if _cv_request.get(None) is not None:
        # The response body is produced after the view returns; keep the request alive.
        rv = stream_with_context(rv)
    return rv


def stream_template(
    template_name_or_list: str | Template | list[str | Template], **context: t.Any
) -> t.Iterator[str]:
    """Render a template file piece by piece, for a streamed response."""
    app = _current_app("stream_template")
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _stream(app, template, context)


def stream_template_string(source: str, **context: t.Any) -> t.Iterator[str]:
    """Render a template string piece by piece, for a streamed response."""
    app = _current_app("stream_template_string")
    template = app.jinja_env.from_string(source)
    return _stream(app, template, context)
