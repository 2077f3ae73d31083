"""The sample app's pages, driven in-process against the real emulators: CPU per page,
Datastore RPCs per page, and where the CPU goes (``python -m tests.load.profile``).

:func:`seeded_app` starts nothing itself: the caller exports the emulators' variables
first. It imports ``sample_app.main`` (what App Engine serves), signs a user up and
writes posts through the app's own forms, and returns the app with a logged-in cookie.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from werkzeug.test import EnvironBuilder

USERNAME = "ada"
PASSWORD = "correct horse battery"
POSTS = 12
_TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    #: Send the logged-in session cookie.
    logged_in: bool
    expect: bytes


def _token(body: bytes) -> str:
    match = _TOKEN.search(body)
    if match is None:
        raise RuntimeError(f"No CSRF token in the form: {body[:300]!r}")
    return match.group(1).decode()


def seeded_app() -> tuple[Any, str, int]:
    """``(app, session cookie of a logged-in user, id of one post)``."""
    from sample_app.main import app

    client = app.test_client()
    token = _token(client.get("/auth/signup").data)
    response = client.post(
        "/auth/signup", data={"username": USERNAME, "password": PASSWORD, "csrf_token": token}
    )
    if response.status_code != 302:
        raise RuntimeError(f"Sign-up failed: {response.status_code} {response.data[:300]!r}")
    post_id = 0
    for n in range(POSTS):
        token = _token(client.get("/new").data)
        response = client.post(
            "/new", data={"title": f"Notice {n}", "text": f"Text of notice {n}\nline two",
                          "csrf_token": token},
        )  # fmt: skip
        if response.status_code != 302:
            raise RuntimeError(f"Posting failed: {response.status_code} {response.data[:300]!r}")
        post_id = int(response.headers["Location"].rsplit("/", 1)[1])
    client.get("/")  # shows (and so clears) the flashed messages
    cookie = client.get_cookie("session")
    if cookie is None:
        raise RuntimeError("Signing up set no session cookie.")
    return app, f"session={cookie.value}", post_id


def pages(post_id: int) -> list[Page]:
    return [
        Page("healthz", "/healthz", False, b'"status":"ok"'),
        Page("home, anonymous", "/", False, b"Notice 11"),
        Page("home, logged in", "/", True, b"Notice 11"),
        Page("post, logged in", f"/p/{post_id}", True, b"Text of notice"),
        Page("post, anonymous", f"/p/{post_id}", False, b"Text of notice"),
        Page("API posts, anonymous", "/api/posts", False, b'"title":"Notice 11"'),
        Page("login form, new visitor", "/auth/login", False, b'name="csrf_token"'),
    ]


def caller(app: Any, page: Page, cookie: str) -> Callable[[], tuple[str, bytes]]:
    """A function that sends ``page`` once through the WSGI app: ``(status, body)``."""
    headers = {"Cookie": cookie} if page.logged_in else {}
    base = EnvironBuilder(path=page.path, headers=headers).get_environ()
    captured: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        captured.append(status)
        return None

    def call() -> tuple[str, bytes]:
        environ = dict(base)
        environ["wsgi.input"] = BytesIO()
        captured.clear()
        body = app(environ, start_response)
        try:
            data = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return captured[0], data

    return call


def check(page: Page, call: Callable[[], tuple[str, bytes]]) -> None:
    status, body = call()
    compact = body.replace(b" ", b"").replace(b"\n", b"")
    if not status.startswith("200") or page.expect.replace(b" ", b"") not in compact:
        raise RuntimeError(f"{page.name}: {status} {body[:300]!r}")


def cpu_per_request(call: Callable[[], object], requests: int) -> tuple[float, float]:
    """``(CPU µs, wall µs)`` per request over ``requests`` calls (this process's CPU,
    every thread: gRPC's included)."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(requests):
        call()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return cpu / requests * 1e6, wall / requests * 1e6
