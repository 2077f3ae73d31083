"""framework/ never reads, sets or overrides a private name of the libraries it builds on.

Read from the source: every ``obj._name`` attribute access and every ``from lib import
_name`` in framework/ must name something framework defines itself, and nothing that
werkzeug (or jinja2, click, itsdangerous, blinker, markupsafe) defines, so overriding a
library's private method (``def _load_form_data`` in a Request subclass) counts too.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ("werkzeug", "jinja2", "click", "itsdangerous", "blinker", "markupsafe")
# Our own attributes that happen to share a name with some library's private one.
SAME_NAME_OURS = {
    # JSONProvider._app: Flask's name for the provider's app, which Flask-style provider
    # subclasses read; set and read on our own class only.
    "_app",
}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _files(folder: Path) -> Iterable[Path]:
    return sorted(folder.rglob("*.py"))


def _defined(paths: Iterable[Path]) -> set[str]:
    """Private names a body of code defines: functions, classes, assigned names/attributes."""
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.id if isinstance(node, ast.Name) else node.attr)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute):
                names.add(node.target.attr)
    return {name for name in names if _is_private(name)}


def _accessed(path: Path) -> set[tuple[int, str]]:
    """``(line, name)`` of private attributes used and private names imported from others."""
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            found.add((node.lineno, node.attr))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "hasattr", "delattr"}
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _is_private(node.args[1].value)
        ):
            found.add((node.lineno, node.args[1].value))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").partition(".")[0] != "framework"
        ):
            found.update((node.lineno, a.name) for a in node.names if _is_private(a.name))
    return found


def _library_defined() -> set[str]:
    names: set[str] = set()
    for name in LIBRARIES:
        module = importlib.import_module(name)
        assert module.__file__ is not None
        names |= _defined(_files(Path(module.__file__).parent))
    return names


def test_framework_uses_no_private_name_of_its_libraries() -> None:
    framework_files = list(_files(ROOT / "framework"))
    library = _library_defined()
    own = (_defined(framework_files) - library) | SAME_NAME_OURS
    offenders = sorted(
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in framework_files
        for line, name in _accessed(path)
        if name not in own
    )
    assert offenders == []


def test_the_check_sees_a_library_private(tmp_path: Path) -> None:
    # The scanner itself: a read of werkzeug's Map._remap and an override of a private
    # Request method are both reported; a private name of our own is not.
    (tmp_path / "bad.py").write_text(
        "from werkzeug.wrappers import Request\n"
        "from werkzeug.test import _TestCookieJar\n"
        "def stale(url_map):\n"
        "    return url_map._remap or getattr(url_map, '_rules_by_endpoint')\n"
        "class R(Request):\n"
        "    def _load_form_data(self):\n"
        "        self._mine = 1\n"
        "        return self._mine\n"
    )
    accessed = {name for _, name in _accessed(tmp_path / "bad.py")}
    own = _defined([tmp_path / "bad.py"]) - _library_defined()
    assert accessed - own == {"_remap", "_rules_by_endpoint", "_TestCookieJar"}
    assert "_load_form_data" in _defined([tmp_path / "bad.py"]) & _library_defined()
