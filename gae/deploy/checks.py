"""``framework gae check``: everything worth knowing before ``gcloud app deploy``, offline.

:func:`check_project` runs gcloud's own parser on the App Engine files when the Google
Cloud CLI is installed, then this project's rules: the app.yaml rules of
:mod:`gae.deploy.appyaml`, requirements.txt, what the deploy uploads (by gcloud's
``.gcloudignore`` logic), cron targets against the app's real URL map, and composite
indexes for the ndb queries written in the code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .appyaml import AppYamlContext, check_app_yaml
from .entrypoint import parse_entrypoint
from .gcloud import GcloudReport, GcloudUnavailable, parse_with_gcloud
from .indexes import Index, IndexProperty, find_queries, index_satisfies
from .indexes import required_indexes as needed_indexes
from .requirements import distribution_findings, requirement_findings
from .startup import startup_findings
from .tasks import task_checks
from .yamlnodes import Finding, YamlFile, get, items, line_of, text

CONFIG_FILES = ("cron.yaml", "index.yaml", "queue.yaml", "dispatch.yaml")
MAX_FILES = 10_000
MAX_FILE_BYTES = 32 * 1024 * 1024
#: Folders that have no business on App Engine, and why.
_NOT_UPLOADED = {
    ".venv/": "a local virtualenv",
    "venv/": "a local virtualenv",
    ".emulators/": "local emulator data",
    "tests/": "tests",
    "bench/": "benchmarks",
    "docs/": "documentation",
    ".git/": "git history",
    "node_modules/": "node packages",
}
_SKIP_DIRS = frozenset(
    {".venv", "venv", ".git", "node_modules", "tests", "bench", "build", "dist", "__pycache__"}
)
#: Imports the app named by argv[2] (``module:expr``) from the project in argv[1] as ``app``.
APP_IMPORT = """
import importlib, json, sys
root, target = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
module_name, _, expr = target.partition(":")
namespace = vars(importlib.import_module(module_name))
app = eval(expr or "application", namespace)
for _ in range(5):
    if hasattr(app, "url_map"):
        break
    app = getattr(app, "app", None) or getattr(app, "application", None)
"""
_ROUTE_PROBE = """
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect
urls = json.loads(sys.argv[3])
adapter = app.url_map.bind("localhost", "/")
result = {}
for url in urls:
    path = url.split("?", 1)[0]
    try:
        result[url] = ["ok", adapter.match(path, method="GET")[0]]
    except RequestRedirect as error:
        result[url] = ["redirect", error.new_url.replace("http://localhost", "")]
    except MethodNotAllowed:
        result[url] = ["method", None]
    except NotFound:
        result[url] = ["missing", None]
print("ROUTES:" + json.dumps(result))
"""


@dataclass
class CheckReport:
    """The findings for one project, and whether gcloud's parser took part."""

    project: Path
    findings: list[Finding] = field(default_factory=list)
    gcloud: str = "not run"

    @property
    def errors(self) -> list[Finding]:
        """Findings that make the deploy fail or the app break."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings worth fixing that do not stop a deploy."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """Whether there is no error."""
        return not self.errors


def check_project(
    project: str | os.PathLike[str],
    *,
    gcloud: bool | None = None,
    import_app: bool = True,
    sdk_root: Path | None = None,
) -> CheckReport:
    """Check the App Engine project in ``project``.

    ``gcloud``: ``None`` uses gcloud's parser when the CLI is installed, ``True`` requires
    it (an error finding when missing), ``False`` skips it. ``import_app`` imports the app
    in a subprocess to resolve cron URLs against its routes.
    """
    root = Path(project)
    report = CheckReport(root)
    if not (root / "app.yaml").is_file():
        report.findings.append(
            Finding(
                "app.yaml",
                None,
                "error",
                f"There is no app.yaml in {root}, so this is not an App Engine service.",
                "Run 'framework gae init' to create one, or check the right folder.",
                "app-yaml",
            )
        )
        return report
    app, problem = YamlFile.load(root / "app.yaml", "app.yaml")
    if problem is not None:
        report.findings.append(problem)
    requirements = requirement_findings(root, report.findings)
    gcloud_report = _gcloud(root, report, gcloud, sdk_root)
    if app is not None:
        ctx = AppYamlContext(root, app, requirements)
        report.findings += check_app_yaml(ctx, known_keys=gcloud_report is None)
        if requirements is not None:
            report.findings += distribution_findings(root, requirements)
        if gcloud_report is not None:
            report.findings += _uploads(ctx, gcloud_report)
        if import_app:
            report.findings += _startup(ctx)
        report.findings += _cron(ctx, import_app)
        report.findings += task_checks(ctx, import_app, source_files(root, None))
        report.findings += _indexes(ctx, gcloud_report)
    report.findings = _dedupe(report.findings)
    return report


def _dedupe(findings: list[Finding]) -> list[Finding]:
    ours = {f.rule for f in findings if not f.rule.startswith("gcloud")}
    kept = []
    for finding in dict.fromkeys(findings):
        duplicate = finding.rule == "gcloud-warning" and "max_instances" in finding.message
        if duplicate and "scaling-limit" in ours:
            continue
        kept.append(finding)
    return kept


def _gcloud(
    root: Path, report: CheckReport, wanted: bool | None, sdk_root: Path | None
) -> GcloudReport | None:
    if wanted is False:
        report.gcloud = "skipped (--no-gcloud)"
        return None
    names = ["app.yaml", *(name for name in CONFIG_FILES if (root / name).is_file())]
    try:
        result = parse_with_gcloud(root, names, sdk_root=sdk_root)
    except (GcloudUnavailable, subprocess.TimeoutExpired, OSError) as error:
        report.gcloud = f"unavailable: {error}"
        if wanted:
            report.findings.append(
                Finding(
                    "app.yaml",
                    None,
                    "error",
                    f"gcloud's parser could not run: {error}",
                    "Install the Google Cloud CLI, or run without --gcloud.",
                    "gcloud",
                )
            )
        return None
    report.gcloud = "used"
    for name, parsed in result.files.items():
        if parsed.error:
            hint = f"Did you mean {parsed.suggestion!r}? " if parsed.suggestion else ""
            report.findings.append(
                Finding(
                    name,
                    parsed.line,
                    "error",
                    f"gcloud's parser rejects {name}: {parsed.error.rstrip('.')}.",
                    f"{hint}Correct or remove that setting (gcloud app deploy stops here).",
                    "gcloud",
                )
            )
        for warning in parsed.warnings:
            report.findings.append(
                Finding(
                    name,
                    None,
                    "warning",
                    f"gcloud warns: {warning}",
                    "Follow gcloud's advice above.",
                    "gcloud-warning",
                )
            )
    return result


def _uploads(ctx: AppYamlContext, gcloud: GcloudReport) -> list[Finding]:
    findings: list[Finding] = []
    if not (ctx.root / ".gcloudignore").is_file():
        findings.append(
            Finding(
                ".gcloudignore",
                None,
                "warning",
                "There is no .gcloudignore, so gcloud app deploy writes a default one that "
                "uploads tests, docs and local data with the app.",
                "Add a .gcloudignore (see 'framework gae init' for one).",
                "gcloudignore",
            )
        )
    if gcloud.uploaded is None:
        return findings
    uploaded = gcloud.uploaded
    if len(uploaded) > MAX_FILES:
        findings.append(
            Finding(
                ".gcloudignore",
                None,
                "error",
                f"gcloud app deploy would upload {len(uploaded)} files; App Engine accepts "
                f"at most {MAX_FILES} per version.",
                "Exclude virtualenvs, caches and data folders in .gcloudignore.",
                "upload-count",
            )
        )
    for name in uploaded:
        path = ctx.root / name
        if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
            findings.append(
                Finding(
                    name,
                    None,
                    "error",
                    f"{name} is larger than 32 MiB, App Engine's limit for one file.",
                    "Exclude it in .gcloudignore and serve it from Cloud Storage.",
                    "upload-size",
                )
            )
    for prefix, what in _NOT_UPLOADED.items():
        count = sum(1 for name in uploaded if name.startswith(prefix))
        if count:
            findings.append(
                Finding(
                    ".gcloudignore",
                    None,
                    "warning",
                    f"gcloud app deploy would upload {prefix} ({what}, {count} files).",
                    f"Add '{prefix}' to .gcloudignore.",
                    "upload-extra",
                )
            )
    for name in uploaded:
        if Path(name).name == ".env" or Path(name).name.startswith(".env."):
            findings.append(
                Finding(
                    name,
                    None,
                    "error",
                    f"gcloud app deploy would upload {name}, which usually holds secrets.",
                    f"Add '{name}' to .gcloudignore and keep secrets in Secret Manager.",
                    "upload-secret",
                )
            )
    findings += _required_uploads(ctx, set(uploaded))
    return findings


def _required_uploads(ctx: AppYamlContext, uploaded: set[str]) -> list[Finding]:
    needed = {"requirements.txt": "App Engine installs the dependencies from it"}
    command = ctx.app.text("entrypoint")
    target = parse_entrypoint(command).app_target if command else "main:app"
    if target:
        module = target.partition(":")[0].replace(".", "/")
        for candidate in (f"{module}.py", f"{module}/__init__.py"):
            if (ctx.root / candidate).is_file():
                needed[candidate] = "the entrypoint imports it"
    findings = []
    for handler in items(ctx.app.get("handlers")):
        folder = text(get(handler, "static_dir"))
        if folder and (ctx.root / folder).is_dir():
            prefix = folder.rstrip("/") + "/"
            if not any(name.startswith(prefix) for name in uploaded):
                findings.append(
                    Finding(
                        "app.yaml",
                        line_of(get(handler, "static_dir")),
                        "error",
                        f"The static_dir {folder!r} is excluded by .gcloudignore, so its "
                        "files are not deployed.",
                        f"Remove the pattern that matches {folder!r} from .gcloudignore.",
                        "upload-missing",
                    )
                )
    return findings + [
        Finding(
            ".gcloudignore",
            None,
            "error",
            f"{name} is excluded from the upload, but {why}.",
            f"Remove the .gcloudignore pattern that matches {name}.",
            "upload-missing",
        )
        for name, why in needed.items()
        if (ctx.root / name).is_file() and name not in uploaded
    ]


def _startup(ctx: AppYamlContext) -> list[Finding]:
    command = ctx.app.text("entrypoint")
    entry = parse_entrypoint(command) if command else None
    target = (entry.app_target if entry else None) or "main:app"
    base = ctx.root / entry.chdir if entry and entry.chdir else ctx.root
    if not base.is_dir():
        return []
    return startup_findings(base, target, ctx.app.get("env_variables"))


# -- cron -------------------------------------------------------------------------------------


def _cron(ctx: AppYamlContext, import_app: bool) -> list[Finding]:
    cron, problem = YamlFile.load(ctx.root / "cron.yaml", "cron.yaml")
    if problem is not None:
        return [problem] if (ctx.root / "cron.yaml").exists() else []
    assert cron is not None
    service = ctx.app.text("service") or "default"
    urls: dict[str, yaml.Node | None] = {}
    findings: list[Finding] = []
    for job in items(cron.get("cron")):
        url_node = get(job, "url")
        url = text(url_node)
        if (text(get(job, "target")) or "default") != service or url is None:
            continue
        if not url.startswith("/"):
            findings.append(
                Finding(
                    "cron.yaml",
                    line_of(url_node),
                    "error",
                    f"The cron url {url!r} must be a path starting with '/'.",
                    f"Use '/{url}'.",
                    "cron-target",
                )
            )
            continue
        urls[url] = url_node
    if not urls or not import_app:
        return findings
    command = ctx.app.text("entrypoint")
    target = (parse_entrypoint(command).app_target if command else None) or "main:app"
    routes, error = resolve_routes(ctx.root, target, list(urls))
    if routes is None:
        return [
            *findings,
            Finding(
                "cron.yaml",
                line_of(next(iter(urls.values()))),
                "warning",
                f"The cron targets could not be checked: importing {target!r} failed ({error}).",
                "Run the check in the project's virtualenv, or fix the import error.",
                "cron-target",
            ),
        ]
    for url, node in urls.items():
        status, detail = routes.get(url, ["missing", None])
        if status is None or status == "ok":
            continue
        message = {
            "missing": f"The cron url {url!r} matches no route of {target!r}, so every "
            "scheduled run gets a 404.",
            "method": f"The cron url {url!r} exists but does not accept GET, the method "
            "App Engine Cron uses.",
            "redirect": f"The cron url {url!r} redirects to {detail!r}; Cron does not "
            "follow redirects.",
        }[status]
        fix = (
            f"Use {detail!r} in cron.yaml."
            if status == "redirect"
            else f"Add a GET route for {url.split('?')[0]!r} (decorated with "
            "@gae.cron_only) or correct the url."
        )
        findings.append(Finding("cron.yaml", line_of(node), "error", message, fix, "cron-target"))
    return findings


def resolve_routes(
    root: Path, target: str, urls: list[str], timeout: float = 60.0
) -> tuple[dict[str, list[str | None]] | None, str | None]:
    """Import the app ``target`` (``module:expr``) in a subprocess and match ``urls``."""
    return run_app_probe(root, target, _ROUTE_PROBE, "ROUTES:", [json.dumps(urls)], timeout)


def run_app_probe(
    root: Path, target: str, code: str, marker: str, args: list[str], timeout: float = 60.0
) -> tuple[t.Any, str | None]:
    """Run ``code`` after :data:`APP_IMPORT` in a subprocess (the app as ``app``); the JSON
    it prints after ``marker``, or ``None`` and the last line of its error output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAE_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        done = subprocess.run(
            [sys.executable, "-c", APP_IMPORT + code, str(root.resolve()), target, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=root,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, str(error)
    for line in done.stdout.splitlines():
        if line.startswith(marker):
            return json.loads(line[len(marker) :]), None
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return None, last


# -- indexes ----------------------------------------------------------------------------------


def read_index_yaml(path: Path) -> list[Index]:
    """The composite indexes declared in an index.yaml."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = []
    for entry in data.get("indexes") or []:
        ancestor = entry.get("ancestor") in {True, "yes", "true"}
        properties = tuple(
            IndexProperty(
                str(p["name"]), "desc" if str(p.get("direction", "asc")) == "desc" else "asc"
            )
            for p in entry.get("properties") or []
        )
        found.append(Index(str(entry["kind"]), ancestor, properties))
    return found


def source_files(root: Path, uploaded: list[str] | None) -> list[tuple[str, Path]]:
    """The project's Python files that are deployed (or, without gcloud, not obviously tests)."""
    if uploaded is not None:
        return [(name, root / name) for name in uploaded if name.endswith(".py")]
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(".py") and not name.startswith("test_"):
                path = Path(folder, name)
                found.append((path.relative_to(root).as_posix(), path))
    return found


def _indexes(ctx: AppYamlContext, gcloud: GcloudReport | None) -> list[Finding]:
    needed = needed_indexes(
        find_queries(source_files(ctx.root, gcloud.uploaded if gcloud else None))
    )
    if not needed:
        return []
    path = ctx.root / "index.yaml"
    try:
        declared = read_index_yaml(path) if path.is_file() else []
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        return []  # the parse error is reported by gcloud's parser
    findings = []
    for shape, index in needed:
        if any(index_satisfies(have, index) for have in declared):
            continue
        where = "index.yaml" if path.is_file() else "a new index.yaml (under 'indexes:')"
        findings.append(
            Finding(
                shape.file,
                shape.line,
                "error",
                f"This {shape.kind} query needs a composite index that index.yaml does not "
                "declare; it works on the emulator but fails on App Engine with 'no "
                "matching index found'.",
                f"Add to {where}:\n{index.to_yaml()}\nand deploy it with "
                "'gcloud app deploy index.yaml'.",
                "index-missing",
            )
        )
    return findings
