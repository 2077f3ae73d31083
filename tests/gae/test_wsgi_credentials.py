"""gae.wrap off App Engine with no emulator and no credentials says the fix at start-up and
answers 503 with it, instead of 500 on every URL; tools that only import the app keep
working. Each case runs in a fresh interpreter with a bare environment (a new user's
shell: no Google variables, an empty home folder)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import typing as t
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


CHECK = (
    "import myapp\n"
    "response = myapp.app.test_client().get('/')\n"
    "print(response.status_code)\n"
    "print(response.get_data(as_text=True))\n"
)


def _import_app(folder: Path, sessions: bool, **extra: str) -> subprocess.CompletedProcess[str]:
    """Import the app and make one request, as a server would."""
    (folder / "myapp.py").write_text(APP.format(sessions=sessions), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=folder,
        env=_bare_env(folder, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_datastore_sessions_without_emulator_or_credentials_answer_503_with_the_fix(
    tmp_path: Path,
) -> None:
    result = _import_app(tmp_path, sessions=True)
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.split("\n", 1)
    assert status == "503"
    assert "framework emulators start" in body
    assert 'eval "$(framework emulators env)"' in body
    # Said at start-up too, where `framework run` and a server's log show it.
    assert "No Datastore to talk to" in result.stderr
    assert "DefaultCredentialsError" not in result.stderr + result.stdout


def test_an_app_that_never_uses_datastore_is_served(tmp_path: Path) -> None:
    result = _import_app(tmp_path, sessions=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n", 1) == ["200", "home\n"]
    assert "No Datastore" not in result.stderr


@pytest.mark.parametrize(
    "extra",
    [
        {"GOOGLE_APPLICATION_CREDENTIALS": "/path/to/key.json"},
        {"K_SERVICE": "cloud-run-service"},
        {"GAE_ENV": "standard", "GOOGLE_CLOUD_PROJECT": "p"},
    ],
)
def test_credentials_or_app_engine_are_trusted(tmp_path: Path, extra: dict[str, str]) -> None:
    (tmp_path / "myapp.py").write_text(APP.format(sessions=True), encoding="utf-8")
    code = "import myapp, gae; print(myapp.app.extensions['appengine'].datastore_problem())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=_bare_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
    assert "No Datastore" not in result.stderr


def test_the_emulator_is_used_when_its_variables_are_set(
    tmp_path: Path, datastore_emulator: t.Any
) -> None:
    env = {**datastore_emulator.env, "GOOGLE_CLOUD_PROJECT": datastore_emulator.project}
    result = _import_app(tmp_path, sessions=True, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n", 1) == ["200", "home\n"]
    assert "No Datastore" not in result.stderr


def test_gcloud_application_default_credentials_are_trusted(tmp_path: Path) -> None:
    adc = tmp_path / ".config" / "gcloud" / "application_default_credentials.json"
    adc.parent.mkdir(parents=True)
    adc.write_text("{}", encoding="utf-8")
    (tmp_path / "myapp.py").write_text(APP.format(sessions=True), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", "import myapp"],
        cwd=tmp_path,
        env=_bare_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "No Datastore" not in result.stderr


def test_tools_that_only_import_the_app_keep_working(tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text(APP.format(sessions=True), encoding="utf-8")
    result = subprocess.run(
        [FRAMEWORK, "--app", "myapp", "routes"],
        cwd=tmp_path,
        env=_bare_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "_ah_warmup" in result.stdout


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
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    status, body = r.status, r.read().decode()
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read().decode()
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "not serving"
                time.sleep(0.2)
                continue
            break
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert status == 503, body
    assert "framework emulators start" in body
    # The terminal said it before the first request.
    assert stderr.index("No Datastore to talk to") < stderr.index("Running on")
