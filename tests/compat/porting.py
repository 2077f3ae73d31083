"""Load ``flaskr_like`` once per web framework, the way a user ports a Flask app.

The application package is written as a Flask user writes it, with literal
``from flask import ...`` and ``from flask.views import ...`` lines, and runs on Flask as
is. Porting it to ``framework`` is the change the porting guide describes: replace the
``flask`` module name in the import lines, nothing else. This module does that change
textually at import time, so the very same files are exercised on both frameworks without
a shim inside the application:

* ``load("flask")`` imports the package untouched under the name ``flaskr_like_on_flask``;
* ``load("framework")`` imports it under ``flaskr_like_on_framework`` with every
  ``from flask`` / ``from flask.<sub>`` import line rewritten to ``framework``.

Each copy is a real package (``__file__``, ``__path__`` and relative imports work, and
``Flask(__name__)`` finds its templates and static files next to the sources). Bytecode is
never cached for the ported copies, so the rewritten code cannot leak into
``__pycache__``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import types
from collections.abc import Sequence
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent / "flaskr_like"
FLAVOURS = ("flask", "framework")
SUBMODULES = ("api", "auth", "blog", "db", "downloads", "profiles")

_FLASK_IMPORT = re.compile(r"^(?P<indent>[ \t]*)from[ \t]+flask(?P<rest>[.\s])", re.MULTILINE)


def package_name(flavour: str) -> str:
    return f"flaskr_like_on_{flavour}"


def port_source(source: str, flavour: str) -> str:
    """Rewrite the ``from flask ...`` import lines of ``source`` to import ``flavour``."""
    ported = _FLASK_IMPORT.sub(rf"\g<indent>from {flavour}\g<rest>", source)
    for node in ast.walk(ast.parse(ported)):
        # Only the ``from flask import`` spelling is portable by a plain rename; make sure
        # the app never picked up another one (``import flask``) that would escape the port.
        if isinstance(node, ast.Import):
            bad = [a.name for a in node.names if a.name.partition(".")[0] in FLAVOURS]
            assert not bad, f"write 'from flask import ...', not 'import {bad[0]}'"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.partition(".")[0]
            assert top not in FLAVOURS or top == flavour, f"{node.module} left unported"
    return ported


class _PortedLoader(importlib.abc.Loader):
    def __init__(self, path: Path, flavour: str) -> None:
        self.path = path
        self.flavour = flavour

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def get_source(self, fullname: str) -> str:
        return port_source(self.path.read_text(encoding="utf-8"), self.flavour)

    def exec_module(self, module: types.ModuleType) -> None:
        code = compile(self.get_source(module.__name__), str(self.path), "exec")
        exec(code, module.__dict__)


class _PortedFinder(importlib.abc.MetaPathFinder):
    """Finds ``flaskr_like_on_<flavour>`` and its submodules in ``PACKAGE_DIR``."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        top, _, rest = fullname.partition(".")
        flavour = next((f for f in FLAVOURS if top == package_name(f)), None)
        if flavour is None:
            return None
        base = PACKAGE_DIR.joinpath(*rest.split(".")) if rest else PACKAGE_DIR
        # A module file wins over a folder of the same name (``downloads.py`` next to the
        # ``downloads/`` data folder), as in Python's own finder.
        file, locations = base.with_suffix(".py"), None
        if not rest or not file.is_file():
            file, locations = base / "__init__.py", [str(base)]
        if not file.is_file():
            # Never fall through to the regular finder: it would load the file unported.
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return importlib.util.spec_from_file_location(
            fullname,
            file,
            loader=_PortedLoader(file, flavour),
            submodule_search_locations=locations,
        )


_FINDER = _PortedFinder()


def load(flavour: str) -> types.ModuleType:
    """Import (once) the copy of ``flaskr_like`` that runs on ``flavour``."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}: choose one of {FLAVOURS}")
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    package = importlib.import_module(package_name(flavour))
    for sub in SUBMODULES:
        importlib.import_module(f"{package.__name__}.{sub}")
    return package
