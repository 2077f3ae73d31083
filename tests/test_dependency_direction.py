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
