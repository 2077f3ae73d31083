"""Flask extensions' own test suites, run unchanged on Flask 3.1.3 and on framework.

Each suite is the ``tests/`` folder of the extension's sdist from PyPI, at the version
pinned in ``requirements.txt`` (the installed extension, not the sdist's copy, is what the
tests import). It runs in a child pytest, twice:

* on Flask: the real Flask 3.1.3 of ``.venv`` (the baseline, cached per pin set);
* on framework: the same command plus ``-o install_as_flask=true``, the ini option of
  ``gae.pytest_plugin`` that calls :func:`framework.install_as_flask` before any
  ``conftest.py``, exactly as a user runs an existing Flask suite.

The outcome of every test must be the same. Tests that fail on Flask too (they need a
Redis or memcached server, or Docker) are deselected, each with its reason.

``python -m tests.extensions.suites download`` fetches the sdists into
``.cache/extensions/sdist`` (``make test`` does it once; later runs are offline);
``python -m tests.extensions.suites report`` runs every suite on both and prints the table.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = ROOT / ".cache" / "extensions"
SDISTS = CACHE / "sdist"
SITE = CACHE / "site"
PYTEST_PLUGINS = CACHE / "pytest-plugins"
RUNS = CACHE / "runs"
BASELINES = CACHE / "baseline"
PROBE = HERE / "probe"
FLAVOURS = ("flask", "framework")
# Config files of an sdist that hold its pytest settings (markers, filterwarnings=error).
_CONFIG_FILES = ("pyproject.toml", "setup.cfg", "tox.ini", "pytest.ini")
# Longest a suite may take before it counts as hung (Flask-Migrate's needs ~1 min).
TIMEOUT = 900

_REDIS = "needs a Redis server (redis-server), which the suite starts itself when installed"
_MEMCACHED = "needs a memcached server and pylibmc's C client"
_DOCKER = "needs the suite's Redis/memcached/MongoDB containers (docker compose)"


@dataclass(frozen=True)
class Suite:
    """One extension's test suite and how to run it."""

    name: str
    version: str
    #: pytest plugins the suite uses (entry-point names; autoloading is off).
    plugins: tuple[str, ...] = ()
    #: Extra ini overrides (``-o``) the suite needs with this pytest.
    options: tuple[str, ...] = ()
    #: Node-id prefixes left out, each with the reason (all fail on Flask too).
    deselect: dict[str, str] = field(default_factory=dict)

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


SUITES = (
    Suite("Flask-Login", "0.6.3"),
    Suite("Flask-WTF", "1.3.0"),
    Suite("Flask-SQLAlchemy", "3.1.1"),
    # Its CLI tests run `flask db ...` in child processes.
    Suite("Flask-Migrate", "4.1.0"),
    Suite(
        "Flask-Caching",
        "2.5.1",
        plugins=("xprocess", "asyncio"),
        options=("asyncio_default_fixture_loop_scope=function",),
        deselect={
            "tests/test_backend_cache.py::TestRedisCache": _REDIS,
            "tests/test_backend_cache.py::TestMemcachedCache": _MEMCACHED,
            "tests/test_basic_app.py::test_init_app_multi_apps": _REDIS,
            "tests/test_basic_app.py::test_app_redis_cache_backend_url_default_db": _REDIS,
            "tests/test_basic_app.py::test_app_redis_cache_backend_url_custom_db": _REDIS,
            "tests/test_basic_app.py::test_app_redis_cache_backend_url_explicit_db_arg": _REDIS,
            "tests/test_cache.py::test_cache_unlink": _REDIS,
        },
    ),
    Suite("Flask-Cors", "6.0.5"),
    Suite(
        "Flask-Limiter",
        "4.1.1",
        plugins=("pytest_mock", "check"),
        deselect={
            "tests/test_commands.py::test_clear_limits": _DOCKER,
            "tests/test_configuration.py::test_constructor_arguments_over_config": _DOCKER,
            "tests/test_error_handling.py::test_fallback_to_memory_config": _DOCKER,
            "tests/test_error_handling.py::test_fallback_to_memory_backoff_check": _DOCKER,
            "tests/test_error_handling.py::test_fallback_to_memory_with_global_override": (_DOCKER),
            "tests/test_error_handling.py::test_fallback_to_memory": (
                "needs the suite's Redis on localhost:46379 (docker compose)"
            ),
            "tests/test_flask_ext.py::test_reset_unsupported": _DOCKER,
            "tests/test_flask_ext.py::test_custom_key_prefix": _DOCKER,
            "tests/test_regressions.py::test_redis_request_slower_than_fixed_window": _DOCKER,
            "tests/test_regressions.py::test_redis_request_slower_than_moving_window": _DOCKER,
            "tests/test_regressions.py::test_custom_key_prefix_with_headers": _DOCKER,
            "tests/test_storage.py": _DOCKER,
        },
    ),
    Suite("Flask-Compress", "1.25"),
)


class NotPrepared(RuntimeError):
    """The sdists or the extensions' packages are not in the cache yet."""


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def sdist_path(suite: Suite) -> Path:
    """The downloaded sdist of ``suite`` (names vary: Flask-Login-0.6.3, flask_wtf-1.3.0)."""
    for path in sorted(SDISTS.glob("*.tar.gz")):
        name, _, version = path.name.removesuffix(".tar.gz").rpartition("-")
        if _normalized(name) == _normalized(suite.name) and version == suite.version:
            return path
    raise NotPrepared(
        f"The sdist of {suite.requirement} is not in {SDISTS}: run `make extensions` (or "
        "`.venv/bin/python -m tests.extensions.suites download`) once, online."
    )


def download() -> None:
    """Fetch the missing sdists from the package index (``pip download``, no binaries)."""
    SDISTS.mkdir(parents=True, exist_ok=True)
    for suite in SUITES:
        try:
            sdist_path(suite)
        except NotPrepared:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "--no-binary",
                    ":all:",
                    "--dest",
                    str(SDISTS),
                    suite.requirement,
                ],
                check=True,
            )
            sdist_path(suite)  # the name matched what was downloaded


def _unpacked(suite: Suite) -> Path:
    """The sdist, unpacked once into the cache."""
    archive = sdist_path(suite)
    with tarfile.open(archive) as tar:
        (folder,) = {member.name.split("/")[0] for member in tar.getmembers()}
        target = CACHE / "src" / folder
        if not (target / ".unpacked").exists():
            shutil.rmtree(target, ignore_errors=True)
            tar.extractall(CACHE / "src", filter="data")
            (target / ".unpacked").touch()
    return target


def _workdir(suite: Suite, flavour: str) -> Path:
    """A fresh copy of the suite's tests and pytest settings (suites write into it)."""
    source = _unpacked(suite)
    work = RUNS / flavour / _normalized(suite.name)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copytree(source / "tests", work / "tests")
    for name in _CONFIG_FILES:
        if (source / name).is_file():
            shutil.copy(source / name, work / name)
    return work


def _config_file(work: Path) -> Path:
    """The suite's own pytest settings, or an empty ``pytest.ini``: without one, pytest
    would climb out of the copy and take this repository's settings."""
    sections = {
        "pytest.ini": "",
        "pyproject.toml": "[tool.pytest.ini_options]",
        "tox.ini": "[pytest]",
        "setup.cfg": "[tool:pytest]",
    }
    for name, section in sections.items():
        path = work / name
        if path.is_file() and section in path.read_text(encoding="utf-8"):
            return path
    path = work / "pytest.ini"
    path.write_text("[pytest]\n", encoding="utf-8")
    return path


def _environment(probe_file: Path) -> dict[str, str]:
    """The child's environment: this one without CI, FLASK_*, PYTEST_* or PYTHONPATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CI", "PYTHONPATH", "FRAMEWORK_INSTALL_AS_FLASK"}
        and not key.startswith(("FLASK_", "PYTEST_"))
    }
    if not (SITE / ".installed").exists():
        raise NotPrepared(
            f"The extensions are not installed in {SITE}: run `make extensions` once, online."
        )
    env["PYTHONPATH"] = os.pathsep.join([str(SITE), str(PYTEST_PLUGINS), str(PROBE)])
    # The `flask` command Flask-Migrate's tests run is the one next to this interpreter.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["SUITE_PROBE_FILE"] = str(probe_file)
    return env


@dataclass
class Result:
    """Outcome of every test of one run: ``{test id: passed|failed|error|skipped}``."""

    outcomes: dict[str, str]
    returncode: int
    output: str
    probe: dict[str, object]

    def counts(self) -> Counter[str]:
        return Counter(self.outcomes.values())

    def summary(self) -> str:
        counts = self.counts()
        return f"{counts['passed']}/{len(self.outcomes)} passed" + (
            f", {counts['skipped']} skipped" if counts["skipped"] else ""
        )


def _outcomes(junit: Path) -> dict[str, str]:
    outcomes = {}
    for case in ET.parse(junit).iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in {"failure", "error", "skipped"}:
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return outcomes


def run(suite: Suite, flavour: str) -> Result:
    """Run ``suite`` on ``flavour`` ("flask" or "framework") in a child pytest."""
    work = _workdir(suite, flavour)
    junit, probe_file = work / "junit.xml", work / "probe.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rfE",
        "--tb=short",
        f"--rootdir={work}",
        "-c",
        str(_config_file(work)),
        "-o",
        "addopts=",
        "-o",
        f"cache_dir={work / '.pytest_cache'}",
        f"--junitxml={junit}",
        "-p",
        "gae.pytest_plugin",
        "-p",
        "framework_suite_probe",
    ]
    for plugin in suite.plugins:
        command += ["-p", plugin]
    for option in suite.options:
        command += ["-o", option]
    for node in suite.deselect:
        command += ["--deselect", node]
    if flavour == "framework":
        command += ["-o", "install_as_flask=true"]
    done = subprocess.run(
        command,
        cwd=work,
        env=_environment(probe_file),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    output = done.stdout + done.stderr
    (work / "output.txt").write_text(output, encoding="utf-8")
    return Result(
        outcomes=_outcomes(junit) if junit.exists() else {},
        returncode=done.returncode,
        output=output,
        probe=json.loads(probe_file.read_text()) if probe_file.exists() else {},
    )


def _baseline_key() -> str:
    """What the Flask results depend on: the pins, this file, the versions that run them."""
    digest = hashlib.sha256()
    for path in (
        HERE / "requirements.txt",
        HERE / "requirements-pytest.txt",
        Path(__file__),
        PROBE / "framework_suite_probe.py",
    ):
        digest.update(path.read_bytes())
    for name in ("flask", "werkzeug", "pytest"):
        digest.update(f"{name}={metadata.version(name)}".encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


def baseline(suite: Suite) -> Result:
    """The suite's result on Flask, from the cache when the pins have not changed."""
    path = BASELINES / _baseline_key() / f"{_normalized(suite.name)}.json"
    if path.exists():
        data = json.loads(path.read_text())
        return Result(data["outcomes"], data["returncode"], data["output"], data["probe"])
    result = run(suite, "flask")
    if result.returncode == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result.__dict__), encoding="utf-8")
    return result


def report() -> int:
    """Run every suite on both and print the per-extension table (Markdown)."""
    print("| extension | version | on Flask 3.1.3 | on framework | deselected |")
    print("| --- | --- | --- | --- | ---: |")
    status = 0
    for suite in SUITES:
        theirs, ours = baseline(suite), run(suite, "framework")
        same = theirs.outcomes == ours.outcomes
        status |= not same
        print(
            f"| {suite.name} | {suite.version} | {theirs.summary()} | {ours.summary()}"
            f"{'' if same else ' (differs)'} | {len(suite.deselect)} |"
        )
    return status


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "report"
    if command == "download":
        download()
    elif command == "report":
        sys.exit(report())
    else:
        sys.exit(f"usage: python -m tests.extensions.suites [download|report], not {command!r}")
