"""``framework gae check`` for Cloud Tasks: the task route, app.yaml and queue.yaml.

When the app uses :mod:`gae.tasks`, a task is an HTTP request from Cloud Tasks to the
route the extension registers. Checked here, offline:

* the route exists (``defer()`` in an app without it enqueues tasks that all 404), a POST
  to its URL reaches it (not another route), and it is the guarded view of gae.tasks;
* app.yaml sends its URL to the app: a static handler would answer it instead, and Cloud
  Tasks cannot deliver to a ``login: required`` handler;
* the queues the code names are defined in queue.yaml (Cloud Tasks refuses tasks for a
  queue that does not exist).
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import yaml

from .appyaml import AppYamlContext
from .entrypoint import parse_entrypoint
from .yamlnodes import Finding, YamlFile, get, items, line_of, pairs, text

_PROBE = """
ext = app.extensions.get("gae.tasks")
result = {"uses_tasks": "gae.tasks" in sys.modules, "url": None, "reaches": None,
          "guarded": False, "queue": app.config.get("TASKS_QUEUE") or "default"}
if ext is not None:
    result["url"] = ext.url
    view = app.view_functions.get("gae_tasks_run")
    result["guarded"] = bool(getattr(view, "gae_task_route", False))
    adapter = app.url_map.bind("localhost", "/")
    try:
        result["reaches"] = adapter.match(ext.url, method="POST")[0]
    except Exception as error:
        result["reaches"] = type(error).__name__
print("TASKS:" + json.dumps(result))
"""
#: Queue names given as string literals to defer(_queue=...), @task(queue=...), iterate.
_QUEUE_ARG = re.compile(r"""\b_?queue\s*=\s*["']([A-Za-z0-9-]+)["']""")


def probe_app(root: Path, target: str) -> tuple[dict[str, object] | None, str | None]:
    """Import the app in a subprocess and report how it uses gae.tasks."""
    from .checks import run_app_probe

    return t.cast(
        "tuple[dict[str, object] | None, str | None]",
        run_app_probe(root, target, _PROBE, "TASKS:", []),
    )


def _handler_for(ctx: AppYamlContext, url: str) -> yaml.Node | None:
    """The first app.yaml handler that takes ``url`` (App Engine tries them in order)."""
    for handler in items(ctx.app.get("handlers")):
        pattern = text(get(handler, "url"))
        if pattern is None:
            continue
        # A static_dir handler's url is a prefix; any other handler's is a regex.
        if "static_dir" in _keys(handler):
            pattern = re.escape(pattern.rstrip("/")) + "/.*"
        try:
            if re.fullmatch(pattern, url):
                return handler
        except re.error:
            continue
    return None


def _keys(node: yaml.Node) -> set[str]:
    return {name for name, _, _ in pairs(node)}


def queues_in_code(root: Path, files: list[tuple[str, Path]]) -> dict[str, str]:
    """Queue names passed as literals in files that use gae.tasks: ``{queue: where}``."""
    found: dict[str, str] = {}
    for name, path in files:
        if name.startswith(("gae/", "framework/")):
            continue  # this library's own files (vendored or the repository itself)
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "gae.tasks" not in source and "gae import tasks" not in source:
            continue
        for match in _QUEUE_ARG.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            found.setdefault(match.group(1), f"{name}:{line}")
    return found


def task_checks(
    ctx: AppYamlContext, import_app: bool, files: list[tuple[str, Path]]
) -> list[Finding]:
    """The findings about Cloud Tasks for the project in ``ctx``."""
    if not import_app:
        return []
    command = ctx.app.text("entrypoint")
    target = (parse_entrypoint(command).app_target if command else None) or "main:app"
    info, _ = probe_app(ctx.root, target)
    if info is None:
        return []  # the cron check reports apps that cannot be imported
    findings: list[Finding] = []
    url = info.get("url")
    if not isinstance(url, str):
        if info.get("uses_tasks"):
            findings.append(
                Finding(
                    "app.yaml",
                    None,
                    "error",
                    f"The app {target!r} imports gae.tasks but has no task route, so every "
                    "deferred task would get a 404 and be retried forever.",
                    "Call gae.wrap(app, tasks=True) (or gae.tasks.Tasks(app)) in the app factory.",
                    "tasks-route",
                )
            )
        return findings
    reaches = info.get("reaches")
    if reaches != "gae_tasks_run" or not info.get("guarded"):
        findings.append(
            Finding(
                "app.yaml",
                None,
                "error",
                f"A POST to the task URL {url!r} reaches {reaches!r}, not the guarded task "
                "route of gae.tasks, so tasks would run something else (or nothing).",
                f"Remove or move the route that takes {url!r}, or give Tasks(app, url=...) "
                "another path.",
                "tasks-route",
            )
        )
    handler = _handler_for(ctx, url)
    if handler is not None and ({"static_dir", "static_files"} & _keys(handler)):
        findings.append(
            ctx.finding(
                handler,
                "error",
                f"The task URL {url!r} is served by a static handler, so Cloud Tasks never "
                "reaches the app.",
                "Narrow that handler's url so the task URL falls through to 'script: auto'.",
                "tasks-handler",
            )
        )
    elif handler is not None and text(get(handler, "login")) == "required":
        findings.append(
            ctx.finding(
                get(handler, "login"),
                "error",
                f"The task URL {url!r} has 'login: required'; Cloud Tasks does not run as a "
                "user, so its requests can never pass.",
                "Remove 'login' (the route is guarded by gae.tasks' task-only check).",
                "tasks-handler",
            )
        )
    findings += _queues(ctx, str(info.get("queue") or "default"), files)
    return findings


def _queues(ctx: AppYamlContext, default: str, files: list[tuple[str, Path]]) -> list[Finding]:
    used = {default: "TASKS_QUEUE", **queues_in_code(ctx.root, files)}
    path = ctx.root / "queue.yaml"
    if not path.is_file():
        names = ", ".join(sorted(used))
        return [
            Finding(
                "queue.yaml",
                None,
                "warning",
                f"The app defers tasks to the queue(s) {names}, and there is no queue.yaml "
                "defining them; Cloud Tasks refuses tasks for a queue that does not exist.",
                "Define them in queue.yaml and run 'gcloud app deploy queue.yaml' (or "
                "'gcloud tasks queues create NAME --location=REGION').",
                "tasks-queue",
            )
        ]
    queue_file, problem = YamlFile.load(path, "queue.yaml")
    if problem is not None or queue_file is None:
        return [problem] if problem is not None else []
    defined = {text(get(queue, "name")) for queue in items(queue_file.get("queue"))}
    return [
        Finding(
            "queue.yaml",
            line_of(queue_file.get("queue")),
            "warning",
            f"The queue {name!r} ({where}) is not defined in queue.yaml; Cloud Tasks refuses "
            "its tasks unless it was created some other way.",
            f"Add '- name: {name}' to queue.yaml and deploy it.",
            "tasks-queue",
        )
        for name, where in sorted(used.items())
        if name not in defined
    ]
