"""Child processes that cannot outlive us: spawn, wait until healthy, stop.

Emulators are long-running servers (a JVM for Datastore). A test run or ``make run`` that
dies must not leave them behind, so on Linux each child gets SIGTERM when the process that
started it dies (``PR_SET_PDEATHSIG``), and it is stopped by pid on a normal exit.

On Linux each child also runs in a process group of its own, out of reach of a terminal's
Ctrl-C, which signals the whole foreground group at once: the Datastore emulator saves its
data only as it exits, and that save fails when a write arrives meanwhile, so the app must
stop first. Ctrl-C stops the app; the process that started the emulators stops them as it
exits, and if it is killed instead, the death signal does.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request
from pathlib import Path

from gae.errors import GaeError

_PR_SET_PDEATHSIG = 1


class EmulatorError(GaeError, RuntimeError):
    """An emulator could not be found, started or reached; the message says how to fix it."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _prepare_child() -> None:
    # Runs in the child between fork and exec; the module docstring says why. The death
    # signal fires when the *thread* that forked exits, which is why emulators are
    # spawned from the caller's thread only.
    os.setpgid(0, 0)
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    argv: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with its output in ``log_path``; it dies when this process dies, and
    on Linux a terminal's Ctrl-C does not reach it: stop it with :func:`stop`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            close_fds=True,
            preexec_fn=_prepare_child if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET ``url``; ``(status, body)``, with HTTP errors returned rather than raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


def http_request(
    method: str, url: str, body: bytes | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    """Send one request to a loopback emulator; ``(status, body)``."""
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


def log_tail(log_path: Path, lines: int = 15) -> str:
    """The last lines of a child's log, for error messages."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class Waiting(t.NamedTuple):
    """A spawned child to wait for: its name, process, health check and log."""

    name: str
    process: subprocess.Popen[bytes]
    is_healthy: t.Callable[[], bool]
    log_path: Path


def wait_until_healthy(children: list[Waiting], timeout: float) -> dict[str, float]:
    """Poll every child's health check until all pass; fail fast if one exits first.

    Returns the monotonic time at which each child (by name) first passed, so the caller
    can report how long each took while they booted in parallel.
    """
    deadline = time.monotonic() + timeout
    ready: dict[str, float] = {}
    delay = 0.02
    while len(ready) < len(children):
        for child in children:
            if child.name in ready:
                continue
            code = child.process.poll()
            if code is not None:
                raise EmulatorError(
                    f"The {child.name} exited with status {code} before it was ready. Its "
                    f"log ({child.log_path}) ends with:\n{log_tail(child.log_path)}"
                )
            with contextlib.suppress(OSError):
                if child.is_healthy():
                    ready[child.name] = time.monotonic()
        if len(ready) == len(children):
            break
        if time.monotonic() > deadline:
            late = [c for c in children if c.name not in ready]
            raise EmulatorError(
                "; ".join(
                    f"The {c.name} did not answer its health check within {timeout:.0f} s; "
                    f"its log ({c.log_path}) ends with:\n{log_tail(c.log_path)}"
                    for c in late
                )
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)
    return ready


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a child: SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=timeout)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status_file = Path(f"/proc/{pid}/status")
    if status_file.exists():
        with contextlib.suppress(OSError):
            for line in status_file.read_text().splitlines():
                if line.startswith("State:"):
                    return "Z" not in line.split(":", 1)[1]
    return True
