"""DESIGN.md section 3: which packages may import what, checked on the source itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Top-level modules framework may import besides the standard library.
FRAMEWORK_ALLOWED = {
    "werkzeug",
    "jinja2",
    "itsdangerous",
    "markupsafe",
    "click",
    "blinker",
    "asgiref",
    "dotenv",
    "framework",
    "_typeshed",
}


def _imports(path: Path) -> set[str]:
    """Top-level names of absolute imports in one file (relative ones stay in-package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def _package_imports(package: str) -> dict[str, set[str]]:
    return {
        str(path.relative_to(ROOT)): _imports(path)
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def test_framework_imports_only_its_allowed_dependencies() -> None:
    stdlib = set(sys.stdlib_module_names)
    offenders = {
        path: sorted(names - stdlib - FRAMEWORK_ALLOWED)
        for path, names in _package_imports("framework").items()
        if names - stdlib - FRAMEWORK_ALLOWED
    }
    assert offenders == {}


def test_framework_never_imports_flask_gae_google_or_sample_app() -> None:
    forbidden = {"flask", "gae", "google", "sample_app"}
    offenders = {
        path: sorted(names & forbidden)
        for path, names in _package_imports("framework").items()
        if names & forbidden
    }
    assert offenders == {}


def test_gae_never_imports_sample_app_or_flask() -> None:
    offenders = {
        path: sorted(names & {"sample_app", "flask"})
        for path, names in _package_imports("gae").items()
        if names & {"sample_app", "flask"}
    }
    assert offenders == {}


def test_nothing_outside_sample_app_imports_it() -> None:
    allowed_roots = {"sample_app", "tests"}
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in allowed_roots or rel.parts[0].startswith("."):
            continue
        if "sample_app" in _imports(path):
            offenders.append(str(rel))
    assert offenders == []


def test_importing_framework_and_gae_loads_no_google_cloud_or_flask() -> None:
    # A fresh interpreter: what `import framework, gae` really pulls in at start-up.
    code = (
        "import sys, framework, gae; "
        "bad = sorted(m for m in sys.modules if m.startswith(('google', 'flask', 'sample_app'))); "
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""


def test_hello_app_does_not_load_jinja2_itsdangerous_or_click() -> None:
    # Cold-start budget: a route that renders nothing and touches no session loads none of
    # the template, signing or CLI libraries.
    code = (
        "import sys\n"
        "from framework import Flask\n"
        "app = Flask(__name__)\n"
        "app.add_url_rule('/', 'hello', lambda: 'Hello World!')\n"
        "from werkzeug.test import EnvironBuilder\n"
        "env = EnvironBuilder('/').get_environ()\n"
        "body = b''.join(app(env, lambda s, h, e=None: None))\n"
        "assert body == b'Hello World!', body\n"
        "print(','.join(sorted(m for m in ('jinja2', 'itsdangerous', 'click') "
        "if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""


# -- gae's layers ----------------------------------------------------------------------------
#
# Runtime code (what an App Engine instance runs: gae's top-level modules, storage,
# sessions and every other runtime package) never imports tooling: the deploy checks, the
# emulator harness, any command-line module, framework's CLI or click. The deploy tooling
# and the emulator harness do not import each other either (what they share is gae.sdk).

TOOLING_PACKAGES = ("gae.deploy", "gae.emulators")
# Top-level gae modules that are tooling themselves (pytest fixtures start emulators).
TOOLING_MODULES = {"gae.pytest_plugin"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute_imports(path: Path) -> set[str]:
    """Every module one file imports (relative imports resolved), at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            # "from gae.sessions import cli" imports a module too.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _is_tooling(module: str) -> bool:
    parts = module.split(".")
    return (
        module.startswith(TOOLING_PACKAGES)
        or module in TOOLING_MODULES
        or parts[-1] == "cli"
        or parts[-1].endswith("_cli")
        or module == "framework.cli"
        or module.startswith("framework.cli.")
        or parts[0] in {"click", "pytest"}
    )


def _runtime_files() -> list[Path]:
    files = []
    for path in sorted((ROOT / "gae").rglob("*.py")):
        module = _module_name(path)
        if not _is_tooling(module):
            files.append(path)
    return files


def test_gae_runtime_modules_never_import_tooling() -> None:
    runtime = _runtime_files()
    # gae's own modules, storage and sessions at least (a rule that checks nothing fails).
    assert {"gae.wsgi", "gae.storage.stream", "gae.sessions.interface"} <= {
        _module_name(p) for p in runtime
    }
    offenders = {
        _module_name(path): sorted(m for m in _absolute_imports(path) if _is_tooling(m))
        for path in runtime
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_deploy_tooling_and_the_emulator_harness_are_independent() -> None:
    for package, other in (("deploy", "gae.emulators"), ("emulators", "gae.deploy")):
        offenders = {
            _module_name(path): sorted(
                m for m in _absolute_imports(path) if m == other or m.startswith(f"{other}.")
            )
            for path in sorted((ROOT / "gae" / package).rglob("*.py"))
        }
        assert {k: v for k, v in offenders.items() if v} == {}, package


def test_wrapping_an_app_with_sessions_and_storage_loads_no_tooling() -> None:
    # A fresh interpreter: what gae.wrap(app, sessions=True) and Storage(app) really load
    # while an App Engine instance starts. The sessions command is only reached through
    # the framework.commands entry point.
    code = (
        "import sys\n"
        "import gae\n"
        "from framework import Flask\n"
        "from gae.storage import Storage\n"
        "app = Flask(__name__)\n"
        "app.config['SECRET_KEY'] = 'k' * 32\n"
        "Storage(app, bucket='b')\n"
        "gae.wrap(app, sessions=True)\n"
        "assert 'gae_session_cleanup' in app.view_functions\n"
        "tooling = ('click', 'framework.cli', 'gae.deploy', 'gae.emulators', 'gae.sdk', "
        "'gae.pytest_plugin', 'pytest')\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(tooling) "
        "or m.endswith('.cli'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""


def test_sample_app_modules_import_each_other_without_a_cycle() -> None:
    # Imports inside functions count: they hide a cycle, they do not remove it.
    package = ROOT / "sample_app"
    modules = {_module_name(path): path for path in package.glob("*.py")}
    graph = {
        name: {m for m in _absolute_imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    assert graph["sample_app.posts"] and graph["sample_app.attachments"]
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state and name != "sample_app":
            visit(name, [name])
    assert cycles == []
