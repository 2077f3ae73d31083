"""gae.wrap off App Engine with no emulator and no credentials refuses to start with the fix,
instead of answering 500 on every URL. Each case runs in a fresh interpreter with a bare
environment (a new user's shell: no Google variables, an empty home folder)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gae.credentials import NO_CREDENTIALS, credentials_problem
from gae.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORK = str(Path(sys.executable).with_name("framework"))

APP = textwrap.dedent(
    """
    import gae
    from framework import Flask

    app = Flask(__name__)
    app.config["SECRET_KEY"] = "0123456789abcdef0123456789abcdef"
    app.get("/")(lambda: "home")
    app = gae.wrap(app, sessions={sessions})
    """
)


def _bare_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


def _import_app(folder: Path, sessions: bool, **extra: str) -> subprocess.CompletedProcess[str]:
    (folder / "myapp.py").write_text(APP.format(sessions=sessions), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-c", "import myapp; print('started')"],
        cwd=folder,
        env=_bare_env(folder, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_datastore_sessions_without_emulator_or_credentials_refuse_to_start(
    tmp_path: Path,
) -> None:
    result = _import_app(tmp_path, sessions=True)
    assert result.returncode == 1
    assert "gae.errors.ConfigurationError" in result.stderr
    assert "framework emulators start" in result.stderr
    assert 'eval "$(framework emulators env)"' in result.stderr


def test_an_app_that_never_uses_datastore_still_starts(tmp_path: Path) -> None:
    result = _import_app(tmp_path, sessions=False)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    "extra",
    [
        {"DATASTORE_EMULATOR_HOST": "127.0.0.1:1", "GOOGLE_CLOUD_PROJECT": "p"},
        {"GOOGLE_APPLICATION_CREDENTIALS": "/path/to/key.json"},
        {"K_SERVICE": "cloud-run-service"},
    ],
)
def test_an_emulator_or_credentials_let_it_start(tmp_path: Path, extra: dict[str, str]) -> None:
    result = _import_app(tmp_path, sessions=True, **extra)
    assert result.returncode == 0, result.stderr


def test_gcloud_application_default_credentials_let_it_start(tmp_path: Path) -> None:
    adc = tmp_path / ".config" / "gcloud" / "application_default_credentials.json"
    adc.parent.mkdir(parents=True)
    adc.write_text("{}", encoding="utf-8")
    result = _import_app(tmp_path, sessions=True)
    assert result.returncode == 0, result.stderr


def test_credentials_problem_reads_only_local_facts(tmp_path: Path) -> None:
    local = Settings.from_environ({})
    missing = tmp_path / "no-such-file"
    home = {"HOME": str(tmp_path)}
    assert credentials_problem(local, home, product_file=missing) == NO_CREDENTIALS
    on_gae = Settings.from_environ({"GAE_ENV": "standard"})
    assert credentials_problem(on_gae, home, product_file=missing) is None
    product = tmp_path / "product_name"
    product.write_text("Google Compute Engine\n", encoding="ascii")
    assert credentials_problem(local, home, product_file=product) is None
    config = tmp_path / "gcloud-config"
    (config / "application_default_credentials.json").parent.mkdir()
    (config / "application_default_credentials.json").write_text("{}", encoding="utf-8")
    env = {**home, "CLOUDSDK_CONFIG": str(config)}
    assert credentials_problem(local, env, product_file=missing) is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_framework_run_says_what_to_do_instead_of_serving_500s(tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text(APP.format(sessions=True), encoding="utf-8")
    port = _free_port()
    proc = subprocess.Popen(
        [FRAMEWORK, "--app", "myapp", "run", "--port", str(port)],
        cwd=tmp_path,
        env=_bare_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    status = r.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                time.sleep(0.2)
                continue
            break
        if proc.poll() is None:
            proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # It refused to start, naming the fix, and never answered a request.
    assert proc.returncode == 1, stderr[-3000:]
    assert "framework emulators start" in stderr.strip().splitlines()[-1]
    assert status is None
