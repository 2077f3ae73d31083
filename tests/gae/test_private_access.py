"""gae uses libraries through their public API: no private attribute, module or override.

A name with one leading underscore is private to whoever defines it. In gae, ``x._name``
is allowed only where gae itself defines ``_name`` (its own classes and modules); a
private module or name of another library is never imported; and no gae class overrides
a private method of a library base class (werkzeug's ``FormDataParser._parse_multipart``
was one: a werkzeug minor release could change it silently).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import gae

GAE = Path(gae.__file__).resolve().parent
ROOT = GAE.parent

#: Reviewed exceptions: file -> private names it may read, and why.
ALLOWED = {
    # Runs on the Google Cloud CLI's own bundled Python, never in an app: it reads the
    # installed CLI's default .gcloudignore for Python so the file list is exactly what
    # `gcloud app deploy` uploads; if the name ever goes, the check reports that the list
    # could not be made (uploaded_error) instead of failing.
    "gae/deploy/_gcloud_probe.py": {"_PYTHON_GCLOUDIGNORE"},
}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _sources() -> dict[str, ast.Module]:
    return {
        path.relative_to(ROOT).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(GAE.rglob("*.py"))
    }


def _defined_by_gae(trees: dict[str, ast.Module]) -> set[str]:
    """Every private name gae defines: functions, classes, variables, attributes, slots."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)  # __slots__ entries, setattr names
    return {name for name in names if _private(name)}


def test_gae_reads_no_private_attribute_of_another_library() -> None:
    trees = _sources()
    ours = _defined_by_gae(trees)
    offenders = []
    for path, tree in trees.items():
        allowed = ALLOWED.get(path, set())
        for node in ast.walk(tree):
            private = isinstance(node, ast.Attribute) and _private(node.attr)
            if private and node.attr not in ours | allowed:
                offenders.append(f"{path}:{node.lineno}: .{node.attr}")
    assert offenders == []


def test_gae_imports_no_private_module_or_name_of_another_library() -> None:
    offenders = []
    for path, tree in _sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                parts = node.module.split(".")
                if parts[0] in {"gae", "__future__", "_typeshed"}:
                    continue
                if any(_private(part) for part in parts):
                    offenders.append(f"{path}:{node.lineno}: from {node.module}")
                offenders += [
                    f"{path}:{node.lineno}: {node.module}.{alias.name}"
                    for alias in node.names
                    if _private(alias.name)
                ]
            elif isinstance(node, ast.Import):
                offenders += [
                    f"{path}:{node.lineno}: import {alias.name}"
                    for alias in node.names
                    if not alias.name.startswith("gae")
                    and any(_private(part) for part in alias.name.split("."))
                ]
    assert offenders == []


def test_no_gae_class_overrides_a_private_method_of_a_library_class() -> None:
    offenders = []
    checked = 0
    names = ["gae", *(info.name for info in pkgutil.walk_packages(gae.__path__, "gae."))]
    for name in names:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name:
                continue
            checked += 1
            foreign = [base for base in cls.__mro__[1:] if not base.__module__.startswith("gae")]
            for attribute, value in vars(cls).items():
                # Methods written in the class (not what a metaclass adds, e.g. _abc_impl).
                method = inspect.isfunction(value) or isinstance(
                    value, classmethod | staticmethod | property
                )
                if not (method and _private(attribute)):
                    continue
                if any(attribute in vars(base) for base in foreign):
                    offenders.append(f"{name}.{cls.__qualname__}.{attribute}")
    assert checked > 40
    assert offenders == []
