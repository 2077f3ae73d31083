"""`make run` serves the sample app over real HTTP (here on a free loopback port)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from gae.emulators import DatastoreEmulator

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, deadline: float, proc: subprocess.Popen[bytes]) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return bytes(response.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            # Refused while the server starts, or slow to answer its first request on
            # a loaded machine: both are retried until the deadline.
            if proc.poll() is not None:
                stream = proc.stderr or proc.stdout
                stderr = stream.read() if stream else b""
                raise AssertionError(f"`python -m sample_app` exited: {stderr[-2000:]!r}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found


#: Variables other tests export (emulator hosts, App Engine facts, secrets) that must not
#: decide how `make run` starts.
LEAKED = (
    "GAE_",
    "GOOGLE_",
    "DATASTORE_",
    "STORAGE_",
    "GCS_",
    "CLOUD_TASKS_",
    "SECRET_KEY",
    "WERKZEUG_",
    "FLASK_",
    "NOTICEBOARD_",
    "CLOUDSDK_",
)


def start_sample_app(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    """`python -m sample_app` on ``port`` in a clean environment, in its own process group
    (debug mode starts a reloader child that must die too)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKED)}
    env.update(HOST="127.0.0.1", PORT=str(port), EMULATOR_DATA_DIR=str(data_dir))
    return subprocess.Popen(
        [sys.executable, "-m", "sample_app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def interrupt(proc: subprocess.Popen[bytes]) -> bytes:
    """Ctrl-C, as a person stops `make run` (SIGKILL if that does not do it); its stderr."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
    return stderr


def test_python_m_sample_app_serves_hello_world(tmp_path: Path) -> None:
    port = _free_port()
    data_dir = tmp_path / "emulator-data"
    proc = start_sample_app(port, data_dir)
    try:
        body = _get(f"http://127.0.0.1:{port}/", time.monotonic() + 90, proc)
        assert b"Latest notices" in body
        assert _processes_mentioning(str(data_dir)), "the emulators should be running"
    finally:
        stderr = interrupt(proc)
    assert b"Debug mode: on" in stderr
    assert b"Emulators ready: Datastore emulator" in stderr
    deadline = time.monotonic() + 15
    while _processes_mentioning(str(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(str(data_dir)) == []


def _status(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return error.code, bytes(error.read())


def test_app_yaml_command_line_without_a_secret_serves_only_this_machine(
    datastore_emulator: DatastoreEmulator,
) -> None:
    # Cloud Run, App Engine flexible or a VM running app.yaml's gunicorn line with no
    # SECRET_KEY: not App Engine standard, so nothing refuses to start. The app must not
    # sign sessions with its public development key for anyone but this machine.
    from tests.load.server import entrypoint_argv

    port = _free_port()
    leaked = ("GAE_", "GOOGLE_", "DATASTORE_", "STORAGE_", "GCS_", "SECRET_KEY", "NOTICEBOARD_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(leaked)}
    env.update(datastore_emulator.env, K_SERVICE="noticeboard", PORT=str(port))
    proc = subprocess.Popen(
        entrypoint_argv(port),
        cwd=ROOT,
        env=env,
        # gae.setup_logging() (sample_app.main) logs to stdout, as App Engine reads it.
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        assert b'"status"' in _get(url, time.monotonic() + 60, proc)  # this machine: served
        # What a front end (Cloud Run's, a load balancer, nginx) forwards, and a page of
        # another site reaching the server by DNS rebinding.
        for headers in (
            {"X-Forwarded-For": "198.51.100.7"},
            {"Forwarded": "for=198.51.100.7;proto=https"},
            {"Host": "noticeboard-abc123-ew.a.run.app"},
        ):
            status, body = _status(url, headers)
            assert status == 403, (headers, status, body)
            assert b"SECRET_KEY" in body
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
    assert b"Refused a request from 127.0.0.1" in output
