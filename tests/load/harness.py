"""The sample app served as App Engine serves it, under load from virtual users.

:class:`Stack` starts the Datastore and Cloud Storage emulators and the root ``app.yaml``
``entrypoint`` (gunicorn, gthread, 1 worker, 8 threads; only the bind address changed to a
free loopback port) in its own process group, and stops all of them. :class:`Load` runs
virtual users in threads: each signs up through the real form (with its CSRF token), then
loops over a front page, a post page, a new post (a Datastore write and a session write),
a small PNG attachment (multipart, streamed to Cloud Storage) and the JSON list, each on
one keep-alive connection, until a time or request budget runs out. Every request's
status and latency is kept (:class:`Sample`) and :func:`summarize` turns them into
requests/second, p50/p99 latency and an error count.

Used by ``tests/load`` (short bounded runs that assert behaviour, never timings) and by
``make load`` (``python -m tests.load.run``, which prints the figures).
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import re
import shlex
import signal
import struct
import subprocess
import sys
import threading
import time
import typing as t
import zlib
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import yaml

from gae.emulators import DatastoreEmulator, StorageEmulator
from gae.processes import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
PROJECT = "load-project"
BUCKET = "load-bucket"
SECRET = "load-test-only-secret-key-0123456789abcdef"
CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
#: Client-side bound on any one request: a server that takes longer is an error.
REQUEST_TIMEOUT = 30.0

#: What each kind of request answers when all is well.
EXPECTED = {
    "signup-form": 200,
    "signup": 302,
    "form": 200,
    "page": 200,
    "post-page": 200,
    "create": 302,
    "upload": 302,
    "api": 200,
    "health": 200,
    "static": 200,
    "whoami": 200,
}


def png(width: int = 24, height: int = 24, seed: int = 0) -> bytes:
    """A small valid PNG (RGB, a gradient that differs by ``seed``): about 1-2 KB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00"
        + bytes(
            itertools.chain.from_iterable(
                ((x * 11 + seed) % 256, (y * 7 + seed) % 256, (x * y + seed) % 256)
                for x in range(width)
            )
        )
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


# -- the server -------------------------------------------------------------------------


def entrypoint_argv(port: int) -> list[str]:
    """The root app.yaml ``entrypoint``, bound to ``127.0.0.1:port`` instead of ``:$PORT``."""
    app_yaml = yaml.safe_load((ROOT / "app.yaml").read_text())
    argv = shlex.split(app_yaml["entrypoint"])
    argv[argv.index(":$PORT")] = f"{HOST}:{port}"
    argv[0] = str(Path(sys.executable).with_name(argv[0]))
    return argv


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
    """Both emulators and the entrypoint's gunicorn, all stopped by :meth:`close`.

    ``persistent=True`` keeps Datastore and Cloud Storage data in ``workdir`` so that it
    survives an emulator restart (what the fault tests need); otherwise both keep data in
    memory. Logs go to ``workdir/logs``.
    """

    def __init__(self, workdir: Path, *, persistent: bool = False) -> None:
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
        self.port = free_port(HOST)
        self.argv = entrypoint_argv(self.port)
        self.server: subprocess.Popen[bytes] | None = None
        self.server_log = self.logs / "gunicorn.log"

    @property
    def env(self) -> dict[str, str]:
        """The server's environment: ours, less App Engine's, plus the emulators'."""
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GAE_", "DATASTORE_"))},
            **self.datastore.env,
            **self.storage.env,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "GCS_BUCKET": BUCKET,
            "SECRET_KEY": SECRET,
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def start(self, timeout: float = 90.0) -> None:
        """Start the emulators (in parallel), then gunicorn; wait until all answer."""
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            for emulator in (self.datastore, self.storage):
                emulator.spawn()
            times = wait_until_healthy(
                [self.datastore.waiting(), self.storage.waiting()], timeout
            )
            for emulator in (self.datastore, self.storage):
                emulator.ready(times[emulator.name])
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
                raise RuntimeError(f"gunicorn exited ({self.server.returncode}):\n{self.log_tail()}")
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
        """The gunicorn worker (the master's only child)."""
        assert self.server is not None, "start() first"
        workers = children_of(self.server.pid)
        if len(workers) != 1:
            raise RuntimeError(f"Expected one gunicorn worker, found {workers}.")
        return workers[0]

    def worker_rss_kib(self) -> int:
        return rss_kib(self.worker_pid)

    def close(self) -> None:
        """Kill gunicorn's process group, then stop both emulators."""
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


# -- virtual users ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: what it was, when it started (monotonic), how long, what came back."""

    kind: str
    status: int  # 0: no HTTP response (connection error or client timeout)
    started: float
    seconds: float
    detail: str = ""  # for unexpected answers: the error or the start of the body

    @property
    def ended(self) -> float:
        return self.started + self.seconds

    @property
    def ok(self) -> bool:
        return self.status == EXPECTED[self.kind]


class Recorder:
    """Samples from every user thread, and the shared request budget."""

    def __init__(self, max_requests: int | None = None) -> None:
        self.samples: list[Sample] = []
        self.max_requests = max_requests
        self.reconnects = 0  # stale keep-alive connections, sent again on a new one
        self._lock = threading.Lock()
        self._sent = 0

    def take(self) -> bool:
        """Claim one request of the budget; False once it is spent."""
        with self._lock:
            if self.max_requests is not None and self._sent >= self.max_requests:
                return False
            self._sent += 1
            return True

    def add(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)


class BudgetSpent(Exception):
    """The run's request budget is used up."""


@dataclass
class Acknowledged:
    """What the server confirmed for one user: posts and attachments (post id -> bytes)."""

    posts: dict[int, str] = field(default_factory=dict)  # id -> title
    attachments: dict[int, bytes] = field(default_factory=dict)


class VirtualUser:
    """A browser-like client: one keep-alive connection, a cookie, the form's CSRF token."""

    def __init__(self, port: int, name: str, recorder: Recorder) -> None:
        self.port = port
        self.name = name
        self.recorder = recorder
        self.cookie: str | None = None
        self.csrf: str | None = None
        self.acknowledged = Acknowledged()
        self.last_post: int | None = None
        self.iteration = 0
        self._connection: http.client.HTTPConnection | None = None
        self._used = 0  # requests sent on the current connection

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)
            self._used = 0
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(
        self,
        kind: str,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        cookie: bool = True,
    ) -> tuple[int, http.client.HTTPMessage | None, bytes]:
        """Send one request and record it; ``(status, headers, body)``, status 0 on error."""
        if not self.recorder.take():
            raise BudgetSpent
        sent = dict(headers or {})
        if cookie and self.cookie:
            sent["Cookie"] = self.cookie
        started = time.monotonic()
        for attempt in (1, 2):
            reused = self._used > 0
            connection = self._connect()
            try:
                connection.request(method, path, body=body, headers=sent)
                self._used += 1
                response = connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.close()
                if reused and attempt == 1:
                    # The server closed an idle keep-alive connection before reading this
                    # request (gunicorn's keepalive is 2 s): send it again, as browsers do.
                    self.recorder.reconnects += 1
                    continue
                return self._record(kind, 0, started, repr(e))
            except (OSError, http.client.HTTPException) as e:  # timeouts, refused
                self.close()
                return self._record(kind, 0, started, repr(e))
            if response.will_close:
                self.close()
            self._take_cookie(response.msg)
            self._record(kind, response.status, started, data)
            return response.status, response.msg, data
        raise AssertionError("unreachable")

    def _record(
        self, kind: str, status: int, started: float, detail: bytes | str
    ) -> tuple[int, None, bytes]:
        seconds = time.monotonic() - started
        text = ""
        if status != EXPECTED[kind]:
            text = detail if isinstance(detail, str) else detail[:300].decode(errors="replace")
        self.recorder.add(Sample(kind, status, started, seconds, text))
        return status, None, b""

    def _take_cookie(self, headers: http.client.HTTPMessage) -> None:
        for header in headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            morsel = jar.get("session")
            if morsel is None:
                continue
            gone = not morsel.value or morsel["max-age"] == "0" or "1970" in morsel["expires"]
            self.cookie = None if gone else f"session={morsel.value}"

    def form(self, kind: str, path: str, fields: dict[str, str]) -> tuple[int, str]:
        """POST an urlencoded form; ``(status, Location)``."""
        status, headers, _ = self.request(
            kind,
            "POST",
            path,
            urlencode(fields).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        return status, (headers.get("Location", "") if headers else "")

    def signup(self) -> bool:
        """Sign up through the form (CSRF from the page); whether it worked."""
        status, _, page = self.request("signup-form", "GET", "/auth/signup")
        match = CSRF.search(page)
        if status != 200 or match is None:
            return False
        fields = {"username": self.name, "password": "load test password", "csrf_token": ""}
        fields["csrf_token"] = match.group(1).decode()
        status, _ = self.form("signup", "/auth/signup", fields)
        if status != 302:
            return False
        # The token lives in the session, which signup moved to a new id: read it again.
        status, _, page = self.request("form", "GET", "/new")
        match = CSRF.search(page)
        if status != 200 or match is None:
            return False
        self.csrf = match.group(1).decode()
        return True

    def step(self) -> None:
        """One round of the mix: front page, a post, a new post, an attachment, the API."""
        self.iteration += 1
        self.request("page", "GET", "/")
        if self.last_post is not None:
            self.request("post-page", "GET", f"/p/{self.last_post}")
        if self.csrf is None and not self.signup():
            return
        title = f"{self.name} #{self.iteration}"
        fields = {"title": title, "text": f"Load test post {self.iteration}."}
        status, location = self.form("create", "/new", {**fields, "csrf_token": str(self.csrf)})
        post_id = _post_id(location) if status == 302 else None
        if post_id is not None:
            self.acknowledged.posts[post_id] = title
            self.last_post = post_id
            self.upload(post_id)
        self.request("api", "GET", "/api/posts")

    def upload(self, post_id: int) -> int:
        """Attach a small PNG to ``post_id``; the status."""
        content = png(seed=post_id % 251)
        boundary = f"----load{post_id}x{self.iteration}"
        body = b"".join(
            [
                f"--{boundary}\r\nContent-Disposition: form-data; "
                f'name="csrf_token"\r\n\r\n{self.csrf}\r\n'.encode(),
                f"--{boundary}\r\nContent-Disposition: form-data; "
                f'name="file"; filename="pixel-{post_id}.png"\r\n'
                "Content-Type: image/png\r\n\r\n".encode(),
                content,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        status, _, _ = self.request(
            "upload",
            "POST",
            f"/p/{post_id}/attachments",
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        if status == 302:
            self.acknowledged.attachments[post_id] = content
        return status


def _post_id(location: str) -> int | None:
    match = re.search(r"/p/(\d+)$", location)
    return int(match.group(1)) if match else None


class Bystander(VirtualUser):
    """A logged-in user's browser fetching what needs no Datastore: /healthz, a static file."""

    def step(self) -> None:
        self.iteration += 1
        self.request("health", "GET", "/healthz")
        self.request("static", "GET", "/static/style.css")


# -- a run ------------------------------------------------------------------------------


class Load:
    """Virtual users in threads until :meth:`stop`, the deadline or the request budget."""

    def __init__(
        self,
        port: int,
        *,
        users: int = 8,
        bystanders: int = 0,
        duration: float | None = None,
        max_requests: int | None = None,
        prefix: str = "user",
        pause: float = 0.0,
    ) -> None:
        self.recorder = Recorder(max_requests)
        token = os.urandom(3).hex()
        self.users = [VirtualUser(port, f"{prefix}{n}-{token}", self.recorder) for n in range(users)]
        self.bystanders = [
            Bystander(port, f"{prefix}b{n}-{token}", self.recorder) for n in range(bystanders)
        ]
        self.duration = duration
        self.pause = pause
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started = 0.0
        self.finished = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        for user in [*self.users, *self.bystanders]:
            thread = threading.Thread(target=self._run, args=(user,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, user: VirtualUser) -> None:
        deadline = None if self.duration is None else self.started + self.duration
        try:
            user.signup()  # a bystander too: its requests carry a real session cookie
            while not self._stop.is_set() and (deadline is None or time.monotonic() < deadline):
                user.step()
                if self.pause:
                    self._stop.wait(self.pause)
        except BudgetSpent:
            pass
        finally:
            user.close()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 120.0) -> None:
        """Wait for every user to finish its current request."""
        limit = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, limit - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            raise RuntimeError(f"Virtual users still running after {timeout:.0f} s: {alive}")
        self.finished = time.monotonic()

    @property
    def all_users(self) -> list[VirtualUser]:
        return [*self.users, *self.bystanders]


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]


@dataclass
class Summary:
    requests: int
    seconds: float
    errors: int
    p50: float
    p99: float
    max: float
    by_kind: dict[str, int]
    statuses: dict[int, int]
    error_samples: list[str]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def summarize(samples: list[Sample], seconds: float) -> Summary:
    latencies = [s.seconds for s in samples]
    errors = [s for s in samples if not s.ok]
    by_kind: dict[str, int] = {}
    statuses: dict[int, int] = {}
    for sample in samples:
        by_kind[sample.kind] = by_kind.get(sample.kind, 0) + 1
        statuses[sample.status] = statuses.get(sample.status, 0) + 1
    return Summary(
        requests=len(samples),
        seconds=seconds,
        errors=len(errors),
        p50=percentile(latencies, 0.50),
        p99=percentile(latencies, 0.99),
        max=max(latencies, default=0.0),
        by_kind=dict(sorted(by_kind.items())),
        statuses=dict(sorted(statuses.items())),
        error_samples=[f"{s.kind} {s.status} {s.detail[:200]}" for s in errors[:5]],
    )


@dataclass
class RunResult:
    summary: Summary
    rss_start_kib: int
    rss_end_kib: int
    warmup: Summary
    reconnects: int
    users: list[VirtualUser]

    @property
    def rss_growth(self) -> float:
        return (self.rss_end_kib - self.rss_start_kib) / self.rss_start_kib


def run(
    stack: Stack,
    *,
    duration: float,
    warmup: float = 3.0,
    users: int = 8,
    max_requests: int = 200_000,
) -> RunResult:
    """Warm up (sign-ups, first pages), sample the worker's RSS, load for ``duration``
    seconds (or ``max_requests``), sample RSS again. Only post-warm-up requests count."""
    load = Load(stack.port, users=users, duration=warmup + duration, max_requests=max_requests)
    load.start()
    time.sleep(warmup)
    rss_start = stack.worker_rss_kib()
    measured_from = time.monotonic()
    load.join(timeout=duration + warmup + 2 * REQUEST_TIMEOUT)
    rss_end = stack.worker_rss_kib()
    samples = load.recorder.snapshot()
    measured = [s for s in samples if s.started >= measured_from]
    early = [s for s in samples if s.started < measured_from]
    return RunResult(
        summary=summarize(measured, load.finished - measured_from),
        rss_start_kib=rss_start,
        rss_end_kib=rss_end,
        warmup=summarize(early, measured_from - load.started),
        reconnects=load.recorder.reconnects,
        users=load.users,
    )


def describe(result: RunResult, stack: Stack, users: int) -> str:
    """The figures of a run, as the report prints them."""
    s = result.summary
    command = " ".join(stack.argv[1:])
    kinds = ", ".join(f"{kind} {count}" for kind, count in s.by_kind.items())
    lines = [
        f"server: gunicorn {command}",
        f"load: {users} keep-alive virtual users on {HOST}, {s.seconds:.1f} s after "
        f"{result.warmup.seconds:.1f} s of warm-up ({result.warmup.requests} requests)",
        f"requests: {s.requests} ({kinds})",
        f"throughput: {s.rps:.1f} requests/s",
        f"latency: p50 {s.p50 * 1000:.1f} ms, p99 {s.p99 * 1000:.1f} ms, "
        f"max {s.max * 1000:.1f} ms",
        f"errors: {s.errors} (statuses {s.statuses}; stale keep-alive resends "
        f"{result.reconnects})",
        f"worker RSS: {result.rss_start_kib / 1024:.1f} MiB after warm-up -> "
        f"{result.rss_end_kib / 1024:.1f} MiB at the end ({result.rss_growth:+.1%})",
    ]
    lines.extend(f"  error: {sample}" for sample in s.error_samples)
    return "\n".join(lines)
