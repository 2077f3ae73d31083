"""The WSGI servers the HTTP benchmark compares, and a running server's process tree.

A :class:`Server` knows its command line for ``bench.http_app:app`` on a loopback port;
:class:`RunningServer` starts it in its own process group and reads what the kernel
accounts to its processes (CPU time, resident and proportional memory) from ``/proc``.
``app-yaml`` is not a fixed command line: it is the root ``app.yaml``'s ``entrypoint`` with
only the bind address and the app changed, so the benchmark measures what App Engine runs.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gae.deploy import entrypoint

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
TARGET = "bench.http_app:app"
#: The entrypoint's app in the root app.yaml, replaced by the benchmark's.
SAMPLE_TARGET = "sample_app.main:app"
BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: What bench.http_app serves: flask or framework, and a scenario name.
FRAMEWORK_VAR = "BENCH_HTTP_FRAMEWORK"
SCENARIO_VAR = "BENCH_HTTP_SCENARIO"

#: (host, port) -> argv.
Argv = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class Server:
    """One way of serving ``bench.http_app:app``."""

    name: str
    #: What the table says about it.
    label: str
    #: A module whose presence means the server is installed.
    module: str
    argv: Argv
    #: Why it cannot run, if it cannot (set when the server is built, e.g. app.yaml's).
    unavailable: str | None = None

    def missing(self) -> str | None:
        """Why this server cannot run here, or None."""
        if self.unavailable is not None:
            return self.unavailable
        if importlib.util.find_spec(self.module) is None:
            return f"{self.module} is not installed in this venv (make bench-http installs it)"
        return None


def _gunicorn(*options: str) -> Argv:
    return lambda host, port: [
        str(BIN / "gunicorn"), "--bind", f"{host}:{port}", *options, TARGET,
    ]  # fmt: skip


def _granian(*options: str) -> Argv:
    return lambda host, port: [
        str(BIN / "granian"), "--interface", "wsgi", "--host", host, "--port", str(port),
        "--log-level", "warning", *options, TARGET,
    ]  # fmt: skip


def _launch(name: str) -> Argv:
    return lambda host, port: [sys.executable, "-m", "bench.http_launch", name, host, str(port)]


SERVERS: dict[str, Server] = {
    server.name: server
    for server in (
        Server(
            "gunicorn-gthread",
            "gunicorn gthread, 1 worker, 8 threads",
            "gunicorn",
            _gunicorn("--worker-class", "gthread", "--workers", "1", "--threads", "8"),
        ),
        Server("gunicorn-sync", "gunicorn sync, 1 worker", "gunicorn", _gunicorn("--workers", "1")),
        Server(
            "granian",
            "granian WSGI, 1 worker, 8 blocking threads, backpressure 8, HTTP/1, no websockets",
            "granian",
            _granian(
                "--workers",
                "1",
                "--blocking-threads",
                "8",
                "--backpressure",
                "8",
                "--http",
                "1",
                "--no-ws",
            ),
        ),
        Server(
            "granian-defaults",
            "granian WSGI, 1 worker, 8 blocking threads, other options default",
            "granian",
            _granian("--workers", "1", "--blocking-threads", "8"),
        ),
        Server(
            "uwsgi",
            "pyuwsgi --http11-socket, master + 1 process, 8 threads",
            "pyuwsgi",
            lambda host, port: [
                str(BIN / "uwsgi"),
                "--http11-socket",
                f"{host}:{port}",
                "--master",
                "--processes",
                "1",
                "--threads",
                "8",
                "--module",
                TARGET,
                "--need-app",
                "--die-on-term",
                "--disable-logging",
                "--single-interpreter",
                "--pythonpath",
                str(ROOT),
            ],
        ),
        Server("bjoern", "bjoern (one thread, libev)", "bjoern", _launch("bjoern")),
        Server("fastwsgi", "fastwsgi (one thread, libuv)", "fastwsgi", _launch("fastwsgi")),
        Server("pyruvate", "pyruvate, 8 worker threads", "pyruvate", _launch("pyruvate")),
    )
}


def app_yaml_entrypoint(app_yaml: Path = ROOT / "app.yaml") -> str:
    """The ``entrypoint`` command line of ``app_yaml`` (the repository root's by default)."""
    return entrypoint.app_yaml_entrypoint(app_yaml)


def entrypoint_argv(command: str, host: str, port: int, target: str | None = None) -> list[str]:
    """An app.yaml ``entrypoint`` as the argv to run here (this venv's program, bound to
    ``host:port``), serving ``target`` instead of ``sample_app.main:app`` if given; see
    :func:`gae.deploy.entrypoint.local_argv`."""
    targets = {SAMPLE_TARGET: target} if target else None
    return entrypoint.local_argv(command, host, port, bin_dir=BIN, targets=targets)


def app_yaml_server(app_yaml: Path = ROOT / "app.yaml") -> Server:
    """The root app.yaml's ``entrypoint``, serving the benchmark's app on a loopback port."""
    command = app_yaml_entrypoint(app_yaml)
    words = shlex.split(command)
    if not words or SAMPLE_TARGET not in words or "$PORT" not in command:
        return Server(
            "app-yaml",
            f"app.yaml: {command!r}",
            "os",
            lambda host, port: [],
            unavailable=f"the app.yaml entrypoint {command!r} does not serve {SAMPLE_TARGET} "
            "on $PORT",
        )
    program = Path(words[0]).name
    label = re.sub(r"\s+", " ", command.replace(SAMPLE_TARGET, "APP"))
    module = {"uwsgi": "pyuwsgi"}.get(program, program)
    return Server(
        "app-yaml",
        f"app.yaml: `{label}`",
        module,
        lambda host, port: entrypoint_argv(command, host, port, TARGET),
    )


# -- a running server ------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after ")".
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
    return found


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def _pss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return _status_kib(pid, "VmRSS")


@dataclass(frozen=True)
class Memory:
    #: Resident memory of the largest process of the tree (the worker that holds the app).
    worker_rss_mib: float
    #: Proportional memory of the whole tree (shared pages counted once): what the
    #: instance holds.
    total_pss_mib: float


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(_children(current))
    return sorted(found)


def tree_memory(pid: int) -> Memory:
    """The memory of ``pid``'s process tree (a server and its workers)."""
    pids = process_tree(pid)
    rss = max(_status_kib(p, "VmRSS") for p in pids)
    return Memory(rss / 1024, sum(_pss_kib(p) for p in pids) / 1024)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid``'s whole process tree so far."""
    ticks = 0
    for process in process_tree(pid):
        with contextlib.suppress(OSError, IndexError):
            fields = _stat_fields(process)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


class RunningServer:
    """``server`` started on a free loopback port in its own process group."""

    def __init__(self, server: Server, port: int, env: dict[str, str], log: Path) -> None:
        self.server = server
        self.port = port
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                server.argv(HOST, port),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        """Poll ``path`` until the server answers it (any status)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.server.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            connection = http.client.HTTPConnection(HOST, self.port, timeout=5)
            with contextlib.suppress(OSError, http.client.HTTPException):
                connection.request("GET", path)
                connection.getresponse().read()
                connection.close()
                return
            connection.close()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.server.name} did not answer within {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def pids(self) -> list[int]:
        """The server process and all its descendants."""
        return process_tree(self.process.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the whole process tree so far."""
        return tree_cpu_seconds(self.process.pid)

    def memory(self) -> Memory:
        return tree_memory(self.process.pid)

    def stop(self) -> None:
        """SIGTERM the group, then SIGKILL what is left after 10 s."""
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
