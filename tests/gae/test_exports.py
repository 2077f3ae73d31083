"""gae's public face: one export table, every name resolvable, one exception base."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import gae
from gae.errors import GaeError

ROOT = Path(__file__).resolve().parents[2]


def _type_checking_imports() -> dict[str, str]:
    """``name -> module`` of the ``if t.TYPE_CHECKING:`` imports in gae/__init__.py."""
    tree = ast.parse((ROOT / "gae" / "__init__.py").read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.level == 1
                for alias in statement.names:
                    # "import X as X": the re-export form type checkers honour.
                    assert alias.asname == alias.name, ast.unparse(statement)
                    found[alias.name] = str(statement.module)
    return found


def test_the_export_table_all_and_the_type_checking_imports_agree() -> None:
    assert _type_checking_imports() == gae._EXPORTS
    assert sorted(gae.__all__) == sorted(gae._EXPORTS)
    assert len(gae.__all__) == len(set(gae.__all__))


def test_every_exported_name_resolves_from_its_module_in_a_fresh_interpreter() -> None:
    code = (
        "import json, sys, gae\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('gae.'))\n"
        "found = {n: getattr(gae, n).__module__ for n in gae.__all__}\n"
        "print(json.dumps([loaded, found]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded, found = json.loads(out.stdout)
    # `import gae` loads none of its modules; each name loads its own.
    assert loaded == []
    for name, module in gae._EXPORTS.items():
        assert found[name].startswith(f"gae.{module}"), (name, found[name])


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    try:
        gae.Nope  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as error:
        assert "'Nope'" in str(error)
    else:
        raise AssertionError("gae.Nope resolved")


def _gae_modules() -> list[str]:
    names = ["gae"]
    for info in pkgutil.walk_packages(gae.__path__, "gae."):
        names.append(info.name)
    return names


def test_every_gae_exception_derives_from_gae_error() -> None:
    exceptions = []
    for name in _gae_modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if value.__module__ == name and issubclass(value, BaseException):
                exceptions.append(value)
    # The upload errors, sessions, storage, emulators, deploy, secrets, signing ...
    assert len(exceptions) >= 12, exceptions
    strays = [f"{e.__module__}.{e.__qualname__}" for e in exceptions if not issubclass(e, GaeError)]
    assert strays == []


def test_gae_errors_keep_their_old_bases() -> None:
    from werkzeug.exceptions import HTTPException

    from gae.secret_manager import SecretUnavailable
    from gae.sessions import SessionTooLarge
    from gae.storage import FileTooLarge, SigningError

    assert issubclass(FileTooLarge, HTTPException) and FileTooLarge.code == 413
    assert issubclass(SessionTooLarge, ValueError)
    assert issubclass(SigningError, RuntimeError)
    assert issubclass(SecretUnavailable, RuntimeError)
    assert issubclass(gae.ConfigurationError, RuntimeError)
