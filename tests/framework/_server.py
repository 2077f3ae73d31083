"""Run a script that serves an app over real HTTP on 127.0.0.1, bounded in time, always killed."""

from __future__ import annotations

import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0
REQUEST_TIMEOUT = 10.0

# Never use a proxy, even if the environment names one: every request goes to 127.0.0.1.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Server:
    """A running server process and where its output goes."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: pathlib.Path) -> None:
        self.proc = proc
        self.port = port
        self.log = log

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """GET ``path``: status, headers and body (error statuses included)."""
        try:
            with _opener.open(self.base_url + path, timeout=REQUEST_TIMEOUT) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read()


def _clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLASK_", "WERKZEUG_")) and k != "PYTHONPATH"
    }
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env["FLASK_SKIP_DOTENV"] = "1"
    return env


def _wait_until_listening(proc: subprocess.Popen[bytes], port: int, log: pathlib.Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"server exited with {proc.returncode} before listening:\n{log.read_text()}"
            )
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(
        f"server not listening on {port} after {START_TIMEOUT}s:\n{log.read_text()}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def serving(
    argvs: t.Sequence[tuple[list[str], int]],
    workdir: pathlib.Path,
    *,
    python: str | None = sys.executable,
    env: dict[str, str] | None = None,
) -> t.Iterator[list[Server]]:
    """Start one process per ``(argv, port)`` at once, wait for all to listen, then stop all.

    Each argv runs with ``python`` (``None``: argv names its own program) in ``env``
    (default: this environment without FLASK_*/WERKZEUG_* variables, this repository on
    PYTHONPATH).
    """
    servers: list[Server] = []
    try:
        for i, (argv, port) in enumerate(argvs):
            log = workdir / f"server-{i}-{port}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [python, *argv] if python is not None else list(argv),
                    cwd=workdir,
                    env=_clean_env() if env is None else env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            servers.append(Server(proc, port, log))
        for server in servers:
            _wait_until_listening(server.proc, server.port, server.log)
        yield servers
    finally:
        for server in servers:
            _stop(server.proc)
