"""The ``entrypoint`` rules of ``framework gae check``: the server App Engine starts.

App Engine runs the entrypoint in a shell with ``PORT`` set, after installing
requirements.txt. These rules check that the server is installed, listens on ``$PORT`` on
every interface, serves a WSGI app that exists, and is sized for the instance class:
gunicorn (``-b :$PORT``, gthread workers) and granian (``--host 0.0.0.0 --port $PORT
--interface wsgi``, ``--workers`` x ``--backpressure`` = ``max_concurrent_requests``).
Without an entrypoint App Engine runs ``gunicorn main:app``.
"""

from __future__ import annotations

import typing as t

import yaml

from .entrypoint import (
    GRANIAN_DEFAULTS,
    SERVER_DISTRIBUTIONS,
    Entrypoint,
    bind_host,
    bind_uses_port,
    defined_names,
    is_loopback,
    module_file,
    parse_entrypoint,
    port_is_env,
)
from .runtimes import B_CLASSES, DEFAULT_MAX_CONCURRENT_REQUESTS, F_CLASSES, MAX_WORKERS
from .yamlnodes import Finding, get, number, text

if t.TYPE_CHECKING:
    from .appyaml import AppYamlContext


def entrypoint_rules(ctx: AppYamlContext) -> list[Finding]:
    node = ctx.app.get("entrypoint")
    command = text(node)
    if command is None:
        return _default_entrypoint(ctx)
    entry = parse_entrypoint(command)
    if entry.error is not None or entry.program is None:
        return [
            ctx.finding(
                node,
                "error",
                f"The entrypoint {command!r} cannot be split into a command ({entry.error}).",
                "Write it as a plain command line, e.g. 'gunicorn -b :$PORT main:app'.",
                "entrypoint",
            )
        ]
    found = []
    distribution = SERVER_DISTRIBUTIONS.get(entry.program)
    if distribution and ctx.requirements is not None and not ctx.requirement(distribution):
        found.append(
            ctx.finding(
                node,
                "error",
                f"The entrypoint runs {entry.program}, but requirements.txt does not list "
                f"{distribution!r}, so the instance fails to start.",
                f"Add a pinned '{distribution}==VERSION' line to requirements.txt.",
                "entrypoint-requirement",
            )
        )
    if entry.is_gunicorn:
        found += _gunicorn(ctx, node, entry)
    elif entry.is_granian:
        found += _granian(ctx, node, entry)
    elif "$PORT" not in command and "${PORT}" not in command:
        found.append(
            ctx.finding(
                node,
                "warning",
                f"The entrypoint {command!r} does not mention $PORT; App Engine only sends "
                "requests to the port in the PORT environment variable.",
                "Make the server listen on $PORT (e.g. '--port $PORT').",
                "entrypoint-port",
            )
        )
    return found


def _gunicorn(ctx: AppYamlContext, node: yaml.Node | None, entry: Entrypoint) -> list[Finding]:
    found = []
    if not entry.binds and entry.config_file is None:
        found.append(
            ctx.finding(
                node,
                "error",
                "gunicorn is started without --bind, so it listens on 127.0.0.1:8000 "
                "and App Engine's requests to $PORT never arrive.",
                "Add '-b :$PORT' to the entrypoint.",
                "entrypoint-port",
            )
        )
    for bind in entry.binds:
        if not bind_uses_port(bind):
            found.append(
                ctx.finding(
                    node,
                    "error",
                    f"gunicorn binds {bind!r}, not $PORT; App Engine sends requests to the "
                    "port in the PORT environment variable.",
                    "Use '-b :$PORT'.",
                    "entrypoint-port",
                )
            )
        elif bind_host(bind) in {"127.0.0.1", "localhost", "::1"}:
            found.append(
                ctx.finding(
                    node,
                    "error",
                    f"gunicorn binds {bind!r}, a loopback address that App Engine's front "
                    "end cannot reach.",
                    "Use '-b :$PORT' (all interfaces).",
                    "entrypoint-port",
                )
            )
    found += _app_target(ctx, node, entry, "gunicorn")
    found += _workers(ctx, node, entry)
    found += _gunicorn_threads(ctx, node, entry)
    return found


def _app_target(
    ctx: AppYamlContext, node: yaml.Node | None, entry: Entrypoint, server: str
) -> list[Finding]:
    if entry.app_target is None:
        return [
            ctx.finding(
                node,
                "error",
                f"The {server} entrypoint names no application ('module:variable').",
                "End the entrypoint with the app, e.g. 'main:app'.",
                "entrypoint-app",
            )
        ]
    module, _, variable = entry.app_target.partition(":")
    variable = variable or "application"
    base = ctx.root / entry.chdir if entry.chdir else ctx.root
    path = module_file(base, module)
    if path is None:
        return [
            ctx.finding(
                node,
                "error",
                f"{entry.program} serves {entry.app_target!r}, but module {module!r} has no source "
                f"file under the project ({module.replace('.', '/')}.py is missing).",
                "Point the entrypoint at the module that creates the app, e.g. 'main:app'.",
                "entrypoint-app",
            )
        ]
    name = variable.split("(", 1)[0].strip()
    names = defined_names(path)
    if names is not None and name not in names:
        relative = path.relative_to(ctx.root).as_posix()
        return [
            ctx.finding(
                node,
                "error",
                f"{entry.program} serves {entry.app_target!r}, but {relative} defines no {name!r}.",
                f"Add '{name} = create_app()' to {relative}, or name the right variable.",
                "entrypoint-app",
            )
        ]
    return []


def _workers(ctx: AppYamlContext, node: yaml.Node | None, entry: Entrypoint) -> list[Finding]:
    instance_class = ctx.instance_class
    limit = MAX_WORKERS.get(instance_class)
    workers = entry.workers or 1
    if limit is None or workers <= limit:
        return []
    memory = {**F_CLASSES, **B_CLASSES}[instance_class]
    more = "--threads" if entry.is_gunicorn else "--blocking-threads"
    return [
        ctx.finding(
            node,
            "warning",
            f"{workers} {entry.program} workers on {instance_class} ({memory} MB): each worker "
            "holds its own copy of the app and its clients, so the instance risks being "
            "stopped for exceeding its memory.",
            f"Use at most {limit} workers and add {more} for concurrency, or a larger "
            "instance_class.",
            "entrypoint-sizing",
        )
    ]


def _concurrency(ctx: AppYamlContext) -> float | None:
    """max_concurrent_requests in effect (App Engine's default when unset), or None when
    the service does not scale automatically."""
    kind, settings = ctx.scaling
    if kind != "automatic":
        return None
    value = number(get(settings, "max_concurrent_requests"))
    return DEFAULT_MAX_CONCURRENT_REQUESTS if value is None else value


def _gunicorn_threads(
    ctx: AppYamlContext, node: yaml.Node | None, entry: Entrypoint
) -> list[Finding]:
    workers = entry.workers or 1
    kind, settings = ctx.scaling
    concurrency = number(get(settings, "max_concurrent_requests")) if kind == "automatic" else None
    if not entry.threaded and (concurrency is None or concurrency > workers):
        return [
            ctx.finding(
                node,
                "warning",
                f"gunicorn runs {workers} sync worker(s) without threads, so each instance "
                "serves that many requests at once while waiting on Datastore.",
                "Add '--worker-class gthread --threads 8': requests waiting on I/O overlap.",
                "entrypoint-sizing",
            )
        ]
    return []


def _granian(ctx: AppYamlContext, node: yaml.Node | None, entry: Entrypoint) -> list[Finding]:
    found = []
    interface = entry.interface or GRANIAN_DEFAULTS["interface"]
    if interface != "wsgi":
        given = "" if entry.interface else " (granian's default)"
        found.append(
            ctx.finding(
                node,
                "error",
                f"granian serves the app with its {interface!r} interface{given}, but a "
                "framework app is a WSGI application, so every request fails.",
                "Add '--interface wsgi' to the entrypoint.",
                "entrypoint-interface",
            )
        )
    if not port_is_env(entry.port):
        port = entry.port or f"{GRANIAN_DEFAULTS['port']} (granian's default)"
        found.append(
            ctx.finding(
                node,
                "error",
                f"granian listens on port {port}, not $PORT; App Engine sends requests to "
                "the port in the PORT environment variable.",
                "Add '--port $PORT' to the entrypoint.",
                "entrypoint-port",
            )
        )
    host = entry.host or GRANIAN_DEFAULTS["host"]
    if is_loopback(host):
        given = "" if entry.host else " (granian's default)"
        found.append(
            ctx.finding(
                node,
                "error",
                f"granian binds {host}{given}, a loopback address that App Engine's front "
                "end cannot reach.",
                "Add '--host 0.0.0.0' (all interfaces) to the entrypoint.",
                "entrypoint-port",
            )
        )
    found += _app_target(ctx, node, entry, "granian")
    found += _workers(ctx, node, entry)
    found += _backpressure(ctx, node, entry)
    return found


def _backpressure(ctx: AppYamlContext, node: yaml.Node | None, entry: Entrypoint) -> list[Finding]:
    concurrency = _concurrency(ctx)
    if concurrency is None:
        return []
    workers = entry.workers or 1
    wanted = max(1, int(concurrency) // workers)
    if entry.backpressure is None:
        return [
            ctx.finding(
                node,
                "warning",
                "granian runs without --backpressure, so each worker lets up to its backlog "
                f"(1024 / workers) requests into Python while App Engine routes at most "
                f"{concurrency:g} (max_concurrent_requests) to the instance; requests queue "
                "inside it instead of going to another instance.",
                f"Add '--backpressure {wanted}' (max_concurrent_requests / --workers).",
                "entrypoint-sizing",
            )
        ]
    if workers * entry.backpressure != concurrency:
        return [
            ctx.finding(
                node,
                "warning",
                f"granian takes {workers} worker(s) x --backpressure {entry.backpressure} = "
                f"{workers * entry.backpressure} requests at once, but max_concurrent_requests "
                f"is {concurrency:g}: App Engine either queues requests inside the instance "
                "or starts instances it does not need.",
                f"Make them equal: 'max_concurrent_requests: {workers * entry.backpressure}' "
                f"under automatic_scaling, or '--backpressure {wanted}'.",
                "entrypoint-sizing",
            )
        ]
    return []


def _default_entrypoint(ctx: AppYamlContext) -> list[Finding]:
    main = ctx.root / "main.py"
    line = ctx.app.key_line("runtime")
    if not main.is_file():
        return [
            ctx.finding(
                line,
                "error",
                "app.yaml has no entrypoint, so App Engine runs 'gunicorn main:app', but "
                "there is no main.py in the project root.",
                "Add main.py with 'app = create_app()', or set an entrypoint such as "
                "'gunicorn -b :$PORT package.module:app'.",
                "main-app",
            )
        ]
    names = defined_names(main)
    if names is not None and "app" not in names:
        return [
            ctx.finding(
                line,
                "error",
                "app.yaml has no entrypoint, so App Engine runs 'gunicorn main:app', but "
                "main.py defines no 'app'.",
                "Add 'app = create_app()' (or 'from yourpackage import app') to main.py.",
                "main-app",
            )
        ]
    return []
