"""Virtual users: browser-like clients of the sample app, in threads.

Each :class:`VirtualUser` signs up through the real form (with its CSRF token), then loops
over a front page, a post page, a new post (a Datastore write and a session write), a small
PNG attachment (multipart, streamed to Cloud Storage) and the JSON list, on one keep-alive
connection. A :class:`Bystander` is a logged-in browser fetching only what needs no
Datastore (``/healthz``, a static file). :class:`Load` runs them until stopped, a deadline
or a request budget; every request's status and latency is kept as a :class:`Sample`, and
what the server acknowledged (posts, attachments) per user.
"""

from __future__ import annotations

import contextlib
import html
import http.client
import itertools
import json
import os
import re
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from .server import HOST, REQUEST_TIMEOUT

CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')

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


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: what it was, when it started (monotonic), how long, what came back."""

    kind: str
    status: int  # 0: no HTTP response (connection error or client timeout)
    started: float
    seconds: float
    detail: str = ""  # for unexpected answers: the error or the start of the body
    path: str = ""

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

    def reconnected(self) -> None:
        with self._lock:
            self.reconnects += 1

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
    """What the server confirmed for one user: posts and attachments (post id -> bytes),
    and every upload sent, confirmed or not."""

    posts: dict[int, str] = field(default_factory=dict)  # id -> title
    attachments: dict[int, bytes] = field(default_factory=dict)
    uploads_sent: dict[int, bytes] = field(default_factory=dict)


class VirtualUser:
    """A browser-like client: one keep-alive connection, a cookie, the form's CSRF token."""

    def __init__(self, port: int, name: str, recorder: Recorder) -> None:
        self.port = port
        self.name = name
        self.recorder = recorder
        #: The cookies the app set: the session, and the visitor's CSRF cookie before signup.
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None
        self.acknowledged = Acknowledged()
        self.last_post: int | None = None
        self.iteration = 0
        self._connection: http.client.HTTPConnection | None = None
        self._used = 0  # requests sent on the current connection

    @property
    def cookie(self) -> str | None:
        """The ``Cookie`` header this client sends (``None``: no cookie)."""
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items()) or None

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
                    self.recorder.reconnected()
                    continue
                return self._record(kind, path, 0, started, repr(e))
            except (OSError, http.client.HTTPException) as e:  # timeouts, refused
                self.close()
                return self._record(kind, path, 0, started, repr(e))
            if response.will_close:
                self.close()
            self._take_cookie(response.msg)
            self._record(kind, path, response.status, started, data)
            return response.status, response.msg, data
        raise AssertionError("unreachable")

    def _record(
        self, kind: str, path: str, status: int, started: float, detail: bytes | str
    ) -> tuple[int, None, bytes]:
        seconds = time.monotonic() - started
        text = ""
        if status != EXPECTED[kind]:
            text = detail if isinstance(detail, str) else message_of(detail)
        self.recorder.add(Sample(kind, status, started, seconds, text, path))
        return status, None, b""

    def _take_cookie(self, headers: http.client.HTTPMessage) -> None:
        for header in headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                gone = not morsel.value or morsel["max-age"] == "0" or "1970" in morsel["expires"]
                if gone:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

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
        self.acknowledged.uploads_sent[post_id] = content
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
            # The token of a multipart post travels outside its body (sample_app/csrf.py).
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "X-CSRF-Token": str(self.csrf),
            },
        )
        if status == 302:
            self.acknowledged.attachments[post_id] = content
        return status


def message_of(body: bytes) -> str:
    """The error message of an error page, a JSON error or a plain-text answer."""
    text = body.decode(errors="replace")
    match = re.search(r'<p class="error-message">(.*?)</p>', text, re.DOTALL)
    if match:
        return html.unescape(match.group(1)).strip()
    with contextlib.suppress(ValueError, TypeError, KeyError):
        return str(json.loads(text)["error"]["message"])
    return text[:300].strip()


def _post_id(location: str) -> int | None:
    match = re.search(r"/p/(\d+)$", location)
    return int(match.group(1)) if match else None


class Bystander(VirtualUser):
    """A logged-in user's browser fetching what needs no Datastore: /healthz, a static file."""

    pause = 0.05  # seconds between rounds: it watches, it does not add load

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
    ) -> None:
        self.recorder = Recorder(max_requests)
        token = os.urandom(3).hex()
        self.users = [
            VirtualUser(port, f"{prefix}{n}-{token}", self.recorder) for n in range(users)
        ]
        self.bystanders = [
            Bystander(port, f"{prefix}b{n}-{token}", self.recorder) for n in range(bystanders)
        ]
        self.duration = duration
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.crashes: list[str] = []  # a user thread's unexpected exception
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
                if isinstance(user, Bystander):
                    self._stop.wait(user.pause)
        except BudgetSpent:
            pass
        except Exception as error:  # a harness bug: join() raises it, never "0 errors"
            self.crashes.append(f"{user.name}: {error!r}")
        finally:
            user.close()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 120.0) -> None:
        """Wait for every user to finish its current request."""
        limit = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, limit - time.monotonic()))
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            raise RuntimeError(f"Virtual users still running after {timeout:.0f} s: {alive}")
        if self.crashes:
            raise RuntimeError(f"Virtual users crashed: {self.crashes}")
        self.finished = time.monotonic()

    @property
    def running(self) -> bool:
        """Whether any user is still sending requests."""
        return any(thread.is_alive() for thread in self._threads)

    @property
    def all_users(self) -> list[VirtualUser]:
        return [*self.users, *self.bystanders]
