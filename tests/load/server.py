"""The sample app served as App Engine serves it: :class:`Stack` starts the Datastore and
Cloud Storage emulators and the root ``app.yaml`` ``entrypoint`` (granian: 1 worker, 8
threads; only the bind address changed to a free loopback port) in its own process group,
and stops all of them. Part of ``tests/load`` (see ``users.py``, ``report.py``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from bench import http_servers as bench_servers
from gae.emulators import DatastoreEmulator, StorageEmulator
from gae.emulators.processes import free_port, wait_until_healthy

from .link import Link

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
PROJECT = "load-project"
BUCKET = "load-bucket"
SECRET = "load-test-only-secret-key-0123456789abcdef"
#: Client-side bound on any one request: a server that takes longer is an error.
REQUEST_TIMEOUT = 30.0


def entrypoint_argv(port: int, command: str | None = None) -> list[str]:
    """The root app.yaml ``entrypoint`` (or ``command``, another entrypoint line), bound to
    ``127.0.0.1:port`` instead of ``$PORT``."""
    line = command or bench_servers.app_yaml_entrypoint()
    return bench_servers.entrypoint_argv(line, HOST, port)


def children_of(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (``VmRSS`` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line (a zombie?)")


class Stack:
    """Both emulators and the entrypoint's server, all stopped by :meth:`close`.

    ``persistent=True`` keeps Datastore and Cloud Storage data in ``workdir`` so that it
    survives an emulator restart (what the fault tests need), and the app then reaches
    Datastore through :attr:`datastore_link`, which the tests cut before stopping the
    emulator (see ``link.py``); otherwise both keep data in memory. Logs go to
    ``workdir/logs``.
    """

    def __init__(
        self, workdir: Path, *, persistent: bool = False, command: str | None = None
    ) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.datastore = DatastoreEmulator(
            PROJECT,
            data_dir=workdir / "datastore" if persistent else None,
            log_dir=self.logs,
        )
        self.storage = StorageEmulator(
            PROJECT,
            bucket=BUCKET,
            data_dir=workdir / "storage" if persistent else None,
            log_dir=self.logs,
        )
        self.datastore_link = Link(self.datastore.port) if persistent else None
        self.port = free_port(HOST)
        self.argv = entrypoint_argv(self.port, command)
        self.server: subprocess.Popen[bytes] | None = None
        self.server_log = self.logs / "server.log"

    @property
    def env(self) -> dict[str, str]:
        """The server's environment: ours, less App Engine's, plus the emulators'."""
        datastore = self.datastore.env
        if self.datastore_link is not None:
            # Every variable that holds the emulator's address gets the link's instead.
            direct, linked = f"{HOST}:{self.datastore.port}", f"{HOST}:{self.datastore_link.port}"
            datastore = {key: value.replace(direct, linked) for key, value in datastore.items()}
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GAE_", "DATASTORE_"))},
            **datastore,
            **self.storage.env,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "GCS_BUCKET": BUCKET,
            "SECRET_KEY": SECRET,
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def start(self, timeout: float = 90.0) -> None:
        """Start the emulators (in parallel), then the server; wait until all answer."""
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            for emulator in (self.datastore, self.storage):
                emulator.spawn()
            times = wait_until_healthy([self.datastore.waiting(), self.storage.waiting()], timeout)
            for emulator in (self.datastore, self.storage):
                emulator.ready(times[emulator.name])
            if self.datastore_link is not None:
                self.datastore_link.start()
            with open(self.server_log, "wb") as out:
                self.server = subprocess.Popen(
                    self.argv,
                    cwd=ROOT,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.wait_for("/healthz", timeout)
        except BaseException:
            self.close()
            raise

    def wait_for(self, path: str, timeout: float) -> float:
        """Poll ``path`` until it answers 200; the seconds it took."""
        started = time.monotonic()
        while True:
            if self.server is not None and self.server.poll() is not None:
                code = self.server.returncode
                raise RuntimeError(f"The server exited ({code}):\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if get(self.port, path)[0] == 200:
                    return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"No 200 from {path} within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.server_log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    @property
    def worker_pid(self) -> int:
        """The worker process that serves the app (the server's only child: granian's
        and gunicorn's supervisors both start one worker)."""
        assert self.server is not None, "start() first"
        workers = children_of(self.server.pid)
        if len(workers) != 1:
            raise RuntimeError(f"Expected one worker process, found {workers}.")
        return workers[0]

    def worker_rss_kib(self) -> int:
        return rss_kib(self.worker_pid)

    def cpu_seconds(self) -> float:
        """CPU time of the server's whole process tree so far."""
        assert self.server is not None, "start() first"
        return bench_servers.tree_cpu_seconds(self.server.pid)

    def close(self) -> None:
        """Kill the server's process group, then stop both emulators."""
        server, self.server = self.server, None
        if server is not None:
            for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, sig)
                try:
                    server.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)  # stragglers of the group
        if self.datastore_link is not None:
            self.datastore_link.close()
        self.datastore.stop()
        self.storage.stop()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get(port: int, path: str, cookie: str | None = None) -> tuple[int, bytes]:
    """One GET on a fresh connection: ``(status, body)``."""
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def bucket_objects(stack: Stack) -> list[str]:
    """Names of every object in the bucket (the storage emulator's JSON API)."""
    names: list[str] = []
    token = ""
    while True:
        url = f"{stack.storage.url}/storage/v1/b/{BUCKET}/o?maxResults=1000{token}"
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as response:
            page = json.loads(response.read() or b"{}")
        names.extend(item["name"] for item in page.get("items", []))
        if not page.get("nextPageToken"):
            return names
        token = f"&pageToken={page['nextPageToken']}"
