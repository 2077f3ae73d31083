"""The user's path with no extras: the built wheel in a fresh venv, `framework` works.

Only framework's own dependencies are installed (no pyyaml, no google-cloud-*, no
emulators): the command line still lists, runs and serves, and a command that needs an
extra says which one to install instead of printing a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from ._server import free_port, serving

ROOT = Path(__file__).resolve().parents[2]
HELLO = """\
from framework import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"
"""

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "WERKZEUG_", "FRAMEWORK_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Path]:
    """A fresh venv with the wheel built from this checkout, installed without extras."""
    root = tmp_path_factory.mktemp("bare")
    # Build from a copy, so the checkout gets no build/ or *.egg-info folders.
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("framework", "gae"):
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(root / "dist"), str(source)],
        check=True,
        timeout=600,
    )
    (wheel,) = (root / "dist").glob("gae_framework-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        timeout=600,
        env=_env(),
    )
    project = root / "project"
    project.mkdir()
    (project / "hello.py").write_text(HELLO)
    yield venv


def _framework(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "framework"), *args],
        cwd=venv.parent / "project",
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_venv_has_no_extra(bare: Path) -> None:
    # What the other tests rely on: none of the extras' packages is there.
    code = (
        "import importlib.util as u; "
        "print([m for m in ('yaml', 'google.cloud', 'gcp_storage_emulator', 'flask') "
        "if u.find_spec(m.split('.')[0])])"
    )
    done = subprocess.run(
        [str(bare / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_help_lists_every_command_without_importing_plugins(bare: Path) -> None:
    done = _framework(bare, "--help")
    assert done.returncode == 0, done.stderr
    commands = done.stdout.split("Commands:")[1]
    for name in ("run", "routes", "shell"):
        assert f"\n  {name} " in commands
    for name in ("gae", "emulators", "sessions"):
        assert f"\n  {name}" in commands
        assert "Command from gae-framework." in commands
    assert "Traceback" not in done.stdout + done.stderr


def test_routes_of_the_hello_app(bare: Path) -> None:
    done = _framework(bare, "--app", "hello", "routes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[2].split() == ["hello", "GET", "/"]


def test_run_serves_hello_world(bare: Path) -> None:
    port = free_port()
    argv = [str(bare / "bin" / "framework"), "--app", "hello", "run", "--port", str(port)]
    with serving([(argv, port)], bare.parent / "project", python=None, env=_env()) as (server,):
        status, _, body = server.get("/")
    assert (status, body) == (200, b"Hello, World!")


def test_a_command_that_needs_an_extra_names_it(bare: Path) -> None:
    for args in (["gae", "--help"], ["gae", "check"]):
        done = _framework(bare, *args)
        assert done.returncode == 1
        assert done.stdout == ""
        assert done.stderr.startswith("Error: The 'gae' command needs the extra [gae] of ")
        assert 'pip install "gae-framework[gae]"' in done.stderr
        assert "No module named 'yaml'" in done.stderr
        assert "Traceback" not in done.stderr
    # The others are untouched by the failure.
    assert _framework(bare, "--app", "hello", "routes").returncode == 0
