"""Shared pieces of the command-line tests: a scratch directory holding app modules.

The CLI imports modules by name, edits ``sys.path`` and sets environment variables
(``FLASK_RUN_FROM_CLI``, ``FLASK_DEBUG``, values from ``.env`` files). A ``Workspace``
undoes all of that when the test ends, so tests do not see each other's modules.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest


class Workspace:
    """A temporary current directory for app modules, restored afterwards."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self._monkeypatch = monkeypatch
        self._sys_path = list(sys.path)
        self._modules = set(sys.modules)
        self._environ = dict(os.environ)
        for name in list(os.environ):
            if name.startswith("FLASK_") or name == "PYTHONSTARTUP":
                del os.environ[name]
        monkeypatch.chdir(root)

    def write(self, relative: str, text: str, *, impl: str = "framework") -> Path:
        """Write a file (dedented); ``impl="flask"`` swaps ``framework`` for ``flask``."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        source = textwrap.dedent(text)
        if impl != "framework":
            source = source.replace("framework", impl)
        path.write_text(source, encoding="utf-8")
        return path

    def chdir(self, relative: str) -> Path:
        path = self.root / relative
        path.mkdir(parents=True, exist_ok=True)
        self._monkeypatch.chdir(path)
        return path

    def forget_modules(self) -> None:
        """Drop modules imported from the workspace (so the same name can be re-imported)."""
        root = str(self.root.resolve())
        for name, module in list(sys.modules.items()):
            locations = [getattr(module, "__file__", None) or ""]
            locations.extend(getattr(module, "__path__", None) or ())
            if any(loc and os.path.realpath(loc).startswith(root) for loc in locations):
                del sys.modules[name]

    def close(self) -> None:
        self.forget_modules()
        sys.path[:] = self._sys_path
        os.environ.clear()
        os.environ.update(self._environ)
