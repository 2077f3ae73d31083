"""The repository as App Engine runs it: the dev server on app.yaml, and the entrypoint's
server (granian) under load.

Both tests start real processes on 127.0.0.1 only, each in its own process group that is
killed at the end, against the real Datastore and Cloud Storage emulators:

* ``dev_appserver.py app.yaml`` from the installed Google Cloud CLI builds a virtualenv
  from requirements.txt (pip reaches PyPI) and runs the ``entrypoint``: pages, static
  handlers with their cache headers, ``/_ah/warmup`` and the cron-only URL;
* the ``entrypoint``'s command line itself (only the bind address changed to loopback)
  takes a bounded load from a Python load generator; req/s are printed.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import os
import signal
import subprocess
import threading
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.http_servers import app_yaml_entrypoint, entrypoint_argv
from gae.emulators import EmulatorError, Emulators, find_sdk_root
from gae.emulators.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.emulator]

ROOT = Path(__file__).resolve().parents[3]
HOST = "127.0.0.1"
SECRET = "e2e-only-secret-key-0123456789abcdef"
DEV_SERVER_BOOT_SECONDS = 90.0
LOAD_SECONDS = 20.0
LOAD_REQUESTS = 8000
LOAD_CLIENTS = 8


@pytest.fixture(scope="module")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    group = Emulators("e2e-project", bucket="e2e-bucket")
    try:
        group.start()
    except EmulatorError as error:
        if os.environ.get("CI"):
            pytest.fail(f"Emulators unavailable in CI: {error}", pytrace=False)
        pytest.skip(f"Emulators unavailable: {error}")
    try:
        yield group
    finally:
        group.stop()


@contextlib.contextmanager
def process_group(
    argv: list[str], log: Path, env: dict[str, str], cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in a new process group; kill the whole group on exit."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group


def get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """GET ``path`` on the loopback server; the response, body already read."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def wait_for(
    port: int, path: str, process: subprocess.Popen[bytes], log: Path, seconds: float
) -> float:
    """Poll until ``path`` answers 200; the seconds it took."""
    start = time.monotonic()
    while True:
        if process.poll() is not None:
            pytest.fail(f"The server exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if get(port, path).status == 200:
                return time.monotonic() - start
        if time.monotonic() - start > seconds:
            pytest.fail(f"No answer from {path} within {seconds:.0f} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)


def body(response: http.client.HTTPResponse) -> bytes:
    return t.cast(bytes, response.body)  # type: ignore[attr-defined]


def test_dev_server_serves_root_app_yaml(emulators: Emulators, tmp_path: Path) -> None:
    sdk = find_sdk_root()
    python = sdk / "platform" / "bundledpythonunix" / "bin" / "python3"
    dev_appserver = sdk / "platform" / "google_appengine" / "dev_appserver.py"
    assert dev_appserver.exists(), "install google-cloud-cli-app-engine-python"
    port, admin_port, api_port = free_port(), free_port(), free_port()
    env_vars = {
        "SECRET_KEY": SECRET,
        "GCS_BUCKET": "e2e-bucket",
        "PYTHONDONTWRITEBYTECODE": "1",
        **{k: v for k, v in emulators.env.items() if k != "GOOGLE_CLOUD_PROJECT"},
    }
    argv = [
        str(python),
        str(dev_appserver),
        "--skip_sdk_update_check=True",
        f"--host={HOST}",
        f"--port={port}",
        f"--admin_host={HOST}",
        f"--admin_port={admin_port}",
        f"--api_host={HOST}",
        f"--api_port={api_port}",
        f"--storage_path={tmp_path / 'storage'}",
        f"--python_virtualenv_path={tmp_path / 'venv'}",
        "--application=e2e-project",
        "--automatic_restart=no",
        *(f"--env_var={key}={value}" for key, value in env_vars.items()),
        "app.yaml",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAE_", "DATASTORE_"))}
    log = tmp_path / "dev_appserver.log"
    with process_group(argv, log, env, ROOT) as process:
        boot = wait_for(port, "/healthz", process, log, DEV_SERVER_BOOT_SECONDS)
        print(f"\ndev_appserver ready in {boot:.1f} s (virtualenv from requirements.txt)")

        home = get(port, "/")
        assert home.status == 200, body(home)[:2000]
        assert home.getheader("Content-Type") == "text/html; charset=utf-8"
        assert b"</html>" in body(home)

        css = get(port, "/static/style.css")
        assert css.status == 200
        assert css.getheader("Content-Type", "").startswith("text/css")
        assert body(css) == (ROOT / "sample_app" / "static" / "style.css").read_bytes()
        assert css.getheader("X-Content-Type-Options") == "nosniff"
        expires = email.utils.parsedate_to_datetime(css.getheader("Expires", ""))
        date = email.utils.parsedate_to_datetime(css.getheader("Date", ""))
        assert abs((expires - date).total_seconds() - 86400) < 5  # expiration: 1d

        robots = get(port, "/robots.txt")
        assert robots.status == 200
        assert body(robots).startswith(b"User-agent:")

        warmup = get(port, "/_ah/warmup")
        assert warmup.status == 200
        assert body(warmup) in {b"warmed up", b"already warm"}

        # Cron-only: App Engine sets X-Appengine-Cron itself; a user request is refused.
        assert get(port, "/tasks/session-cleanup").status == 403
        assert get(port, "/no-such-page").status == 404
    assert process.poll() is not None


def _load(port: int, paths: list[str]) -> tuple[int, int, float, list[str]]:
    """Send up to LOAD_REQUESTS requests from LOAD_CLIENTS keep-alive clients, for at most
    LOAD_SECONDS; (completed, errors, seconds, error samples)."""
    lock = threading.Lock()
    state = {"sent": 0, "done": 0, "errors": 0}
    samples: list[str] = []
    deadline = time.monotonic() + LOAD_SECONDS

    def client(number: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        index = number
        while time.monotonic() < deadline:
            with lock:
                if state["sent"] >= LOAD_REQUESTS:
                    break
                state["sent"] += 1
            path = paths[index % len(paths)]
            index += 1
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                ok = 200 <= response.status < 300
                problem = f"{path}: HTTP {response.status}"
            except (OSError, http.client.HTTPException) as error:
                ok, problem = False, f"{path}: {error!r}"
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=10)
            with lock:
                state["done" if ok else "errors"] += 1
                if not ok and len(samples) < 5:
                    samples.append(problem)
        connection.close()

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(LOAD_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LOAD_SECONDS + 30)
    return state["done"], state["errors"], time.monotonic() - start, samples


def test_entrypoint_under_load(
    emulators: Emulators, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = app_yaml_entrypoint()
    assert "$PORT" in command and "sample_app.main:app" in command
    port = free_port()
    argv = entrypoint_argv(command, HOST, port)  # the one change: loopback, a free port
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GAE_")},
        **emulators.env,
        "SECRET_KEY": SECRET,
        "GCS_BUCKET": "e2e-bucket",
        "PORT": str(port),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    log = tmp_path / "server.log"
    with process_group(argv, log, env, ROOT) as process:
        boot = wait_for(port, "/healthz", process, log, 30)
        assert get(port, "/_ah/warmup").status == 200
        completed, errors, seconds, samples = _load(
            port, ["/", "/healthz", "/static/style.css", "/_ah/warmup"]
        )
    rate = completed / seconds
    with capsys.disabled():
        print(
            f"\n{Path(argv[0]).name} ({' '.join(argv[1:-1])}): ready in {boot:.1f} s; {completed} "
            f"requests, {errors} errors in {seconds:.1f} s = {rate:.0f} req/s "
            f"({LOAD_CLIENTS} keep-alive clients on {HOST})"
        )
    assert errors == 0, samples
    assert completed >= 200
    assert rate > 20
