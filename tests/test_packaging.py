"""What ``pip install`` gets: every package, the project templates, working entry points."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _package_folders() -> set[str]:
    found = set()
    for top in ("framework", "gae"):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            # A package folder inside a plain folder is data (framework/_flask_alias/flask).
            if all(
                (ROOT.joinpath(*parts[:n]) / "__init__.py").exists() for n in range(1, len(parts))
            ):
                found.add(".".join(parts))
    return found


def test_package_discovery_finds_every_package_folder() -> None:
    # A new subpackage cannot silently drop out of the wheel.
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    packages = set(find_packages(str(ROOT), include=find["include"]))
    assert {"gae.storage", "gae.sessions", "gae.deploy", "gae.emulators"} <= packages
    assert packages == _package_folders()


def test_entry_points_name_objects_that_exist() -> None:
    entry_points = PYPROJECT["project"]["entry-points"]
    commands = entry_points["framework.commands"]
    assert set(commands) == {"emulators", "gae", "sessions"}
    targets = [*commands.values(), entry_points["pytest11"]["gae"]]
    for target in targets:
        # "module:attribute [extra]": the extra names what `framework CMD` asks to install.
        module, _, attribute = target.split(" [")[0].partition(":")
        loaded = importlib.import_module(module)
        if attribute:
            assert callable(getattr(loaded, attribute)), target


@pytest.mark.slow
def test_the_wheel_holds_every_module_the_templates_and_the_entry_points(tmp_path: Path) -> None:
    # Built from a clean copy: a build/ folder left in the checkout could hide a module the
    # package list misses (and building must not write into the checkout).
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("framework", "gae"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("gae_framework-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        declared = archive.read(entry_points).decode()
    sources = {
        path.relative_to(ROOT).as_posix()
        for top in ("framework", "gae")
        for path in (ROOT / top).rglob("*.py")
    }
    assert sources <= names, sorted(sources - names)
    templates = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "gae" / "deploy" / "templates").rglob("*")
        if path.is_file()
    }
    assert templates and templates <= names, sorted(templates - names)
    assert {"gae/py.typed", "framework/py.typed"} <= names
    for line in (
        "emulators = gae.emulators.cli:emulators",
        "gae = gae.deploy.cli:gae",
        "sessions = gae.sessions.cli:sessions",
        "gae = gae.pytest_plugin",
    ):
        assert line in declared
