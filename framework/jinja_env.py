"""The Jinja environment and template loader (imported only when templates are used).

Keeping jinja2 out of the import path of apps that never render a template shortens cold
starts on App Engine.
"""

from __future__ import annotations

import typing as t

from jinja2 import BaseLoader, TemplateNotFound
from jinja2 import Environment as BaseEnvironment

from .globals import _cv_request, g, request, session
from .helpers import get_flashed_messages

if t.TYPE_CHECKING:
    from .app import Flask
    from .scaffold import Scaffold


class Environment(BaseEnvironment):
    """A Jinja environment bound to an application (``env.app``).

    Templates are looked up in the app's template folder first, then in each registered
    blueprint's, in registration order.
    """

    def __init__(self, app: Flask, **options: t.Any) -> None:
        if "loader" not in options:
            options["loader"] = app.create_global_jinja_loader()
        super().__init__(**options)
        self.app = app


class DispatchingJinjaLoader(BaseLoader):
    """Looks a template up in the application's loader, then in the blueprints' loaders."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _candidates(self) -> t.Iterator[tuple[Scaffold, BaseLoader]]:
        app = self.app
        if app.jinja_loader is not None:
            yield app, app.jinja_loader
        for blueprint in app.iter_blueprints():
            loader = blueprint.jinja_loader
            if loader is not None:
                yield blueprint, loader

    def get_source(
        self, environment: BaseEnvironment, template: str
    ) -> tuple[str, str | None, t.Callable[[], bool] | None]:
        if self.app.config["EXPLAIN_TEMPLATE_LOADING"]:
            return self._get_source_explained(environment, template)
        for _, loader in self._candidates():
            try:
                return loader.get_source(environment, template)
            except TemplateNotFound:
                continue
        raise TemplateNotFound(template)

    def _get_source_explained(
        self, environment: BaseEnvironment, template: str
    ) -> tuple[str, str | None, t.Callable[[], bool] | None]:
        attempts: list[tuple[Scaffold, BaseLoader, tuple[str, str | None, t.Any] | None]] = []
        found: tuple[str, str | None, t.Callable[[], bool] | None] | None = None
        for owner, loader in self._candidates():
            try:
                rv = loader.get_source(environment, template)
            except TemplateNotFound:
                rv = None
            attempts.append((owner, loader, rv))
            if found is None and rv is not None:
                found = rv
        explain_template_loading_attempts(self.app, template, attempts)
        if found is None:
            raise TemplateNotFound(template)
        return found

    def list_templates(self) -> list[str]:
        names: set[str] = set()
        for _, loader in self._candidates():
            names.update(loader.list_templates())
        return sorted(names)


def explain_template_loading_attempts(
    app: Flask,
    template: str,
    attempts: list[tuple[Scaffold, BaseLoader, tuple[str, str | None, t.Any] | None]],
) -> None:
    """Log, at INFO, where a template was searched for and where it was found."""
    lines = [f"Locating template {template!r}:"]
    found = 0
    for index, (owner, loader, rv) in enumerate(attempts, 1):
        if owner is app:
            kind = f"application {app.name!r}"
        else:
            kind = f"blueprint {owner.name!r} ({owner.import_name})"
        lines.append(f"{index:5}: trying loader of {kind}")
        lines.append(f"       class: {type(loader).__module__}.{type(loader).__name__}")
        searchpath = getattr(loader, "searchpath", None)
        if searchpath:
            lines.append("       searchpath:")
            lines.extend(f"         - {path}" for path in searchpath)
        if rv is None:
            lines.append("       -> no match")
        else:
            lines.append(f"       -> found ({rv[1] or '<string>'!r})")
            found += 1
    if found == 0:
        lines.append("Error: the template could not be found.")
        ctx = _cv_request.get(None)
        if ctx is not None and ctx.request.blueprint is not None:
            lines.append(
                "  The template was looked up from an endpoint that belongs to the blueprint "
                f"{ctx.request.blueprint!r}. Is it in that blueprint's template folder (or "
                "the application's)? Blueprint templates share one namespace, so put them "
                "in a subfolder named after the blueprint."
            )
    elif found > 1:
        lines.append("Warning: multiple loaders returned a match for the template.")
    app.logger.info("\n".join(lines))


def create_environment(app: Flask) -> Environment:
    """The app's Jinja environment with Flask's globals, autoescaping and reloading."""
    options = dict(app.jinja_options)
    options.setdefault("autoescape", app.select_jinja_autoescape)
    if "auto_reload" not in options:
        auto_reload = app.config["TEMPLATES_AUTO_RELOAD"]
        options["auto_reload"] = app.debug if auto_reload is None else auto_reload
    env = app.jinja_environment(app, **options)
    env.globals.update(
        url_for=app.url_for,
        get_flashed_messages=get_flashed_messages,
        config=app.config,
        request=request,
        session=session,
        g=g,
    )
    env.policies["json.dumps_function"] = app.json.dumps
    return env
