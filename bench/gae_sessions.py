"""Datastore sessions (``gae.sessions``) against the framework's cookie sessions.

Both sides are the same app wrapped by ``gae.wrap`` (so both enter an ndb context per
request); the candidate adds ``sessions=True``, which stores the session in the real
Datastore emulator and leaves only a signed id in the cookie. Each side gets its cookie
from ``GET /login`` through its own test client (same ``SECRET_KEY``), and every timed
request replays it in a fresh copy of the environ.

Importing this module registers ``session-read``, ``session-write`` and
``session-untouched`` in :data:`bench.gae_scenarios.COMPARISONS`, after ``gae-ndb-get``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gae
from bench.driver import check
from bench.gae_scenarios import AUDIT, SECRET_KEY, comparison, datastore_emulator
from bench.scenarios import RequestSpec
from framework import Flask, session
from gae.sessions import DatastoreSessionInterface

HTML = "text/html; charset=utf-8"
COOKIE = "session"

#: How the session comparisons are timed: a Datastore round trip takes milliseconds.
_DATASTORE: Mapping[str, Any] = {
    "setup": datastore_emulator,
    "slice_scale": 8.0,
    "round_divisor": 4,
    "warmup_requests": 50,
    "profile_requests": 500,
}
_COOKIE_SIDE = "gae.wrap(app), the framework's cookie sessions"
_DATASTORE_SIDE = "gae.wrap(app, sessions=True): Datastore sessions, emulator"


class SessionApp:
    """An app with ``/login`` (fills the session), ``/read`` (reads one value),
    ``/count`` (reads a counter and writes it back), ``/n`` (reads the counter) and
    ``/plain`` (never touches the session), plus a session cookie made by ``/login``
    through the app's own test client.
    """

    def __init__(self, name: str, *, datastore: bool) -> None:
        self.datastore = datastore
        #: ``/count`` views run so far (the stored counter must end up equal).
        self.count_calls = 0
        app = self.app = Flask(name)
        app.config["SECRET_KEY"] = SECRET_KEY
        app.add_url_rule("/login", view_func=self.login)
        app.add_url_rule("/read", view_func=self.read)
        app.add_url_rule("/count", view_func=self.count)
        app.add_url_rule("/n", view_func=self.peek)
        app.add_url_rule("/plain", view_func=self.plain)
        gae.wrap(app, sessions=datastore)
        interface = type(app.session_interface)
        if datastore is not (interface is DatastoreSessionInterface):
            raise RuntimeError(
                f"gae.wrap(app, sessions={datastore}) left app.session_interface as "
                f"{interface.__name__}: the side would not measure the sessions it claims."
            )
        self.cookie = self._login()

    @staticmethod
    def login() -> str:
        session["user_id"] = 42
        session["name"] = "Ada"
        session["csrf"] = "5f0c3b2a9d8e7f6a5b4c3d2e1f0a9b8c"
        return "logged in"

    @staticmethod
    def read() -> str:
        return f"Hello {session['name']}"

    def count(self) -> str:
        self.count_calls += 1
        session["n"] = session.get("n", 0) + 1
        return f"{session['name']} {session['n']}"

    @staticmethod
    def peek() -> str:
        return str(session.get("n", 0))

    @staticmethod
    def plain() -> str:
        return "no session here"

    def _login(self) -> str:
        """``GET /login`` through the test client; the cookie must read back at ``/read``."""
        client = self.app.test_client()
        client.get("/login")
        cookie = client.get_cookie(COOKIE)
        if cookie is None or not cookie.value:
            raise RuntimeError("GET /login through the test client set no 'session' cookie.")
        body = client.get("/read").data
        if body != b"Hello Ada":
            raise RuntimeError(
                f"The session did not round-trip: GET /read gave {body!r}, expected b'Hello Ada'."
            )
        return str(cookie.value)

    def spec(self, path: str, body: bytes, **expect: Any) -> RequestSpec:
        """``path`` with this side's session cookie, answering ``body``."""
        return RequestSpec(
            path,
            headers={"Cookie": f"{COOKIE}={self.cookie}"},
            expect_body=body,
            expect_content_type=HTML,
            **expect,
        )

    def audit_counter(self) -> list[str]:
        """After the timing: the stored counter, read back through ``GET /n``, must equal
        the number of ``/count`` requests (each one increments it once; none is lost).
        """
        expected = str(self.count_calls).encode()
        return [
            f"after {self.count_calls} GET /count, the stored counter read back through "
            f"GET /n: {problem}"
            for problem in check(self.app, self.spec("/n", expected))
        ]


@comparison(
    "session-read",
    baseline=_COOKIE_SIDE,
    candidate=_DATASTORE_SIDE,
    expect_rpcs=({}, {"lookup": 1}),
    **_DATASTORE,
)
def build_session_read(candidate: bool) -> tuple[Any, RequestSpec]:
    """``GET /read`` with a valid session cookie; the view reads one value."""
    side = SessionApp("bench_session_read", datastore=candidate)
    return side.app, side.spec("/read", b"Hello Ada", expect_no_set_cookie=True)


@comparison(
    "session-write",
    baseline=_COOKIE_SIDE,
    candidate=_DATASTORE_SIDE,
    # The view reads the counter (the session opens: 1 lookup), then the save merges the
    # change in a transaction that reads the entity again (begin_transaction, lookup,
    # commit), so a concurrent request's keys are not lost.
    expect_rpcs=({}, {"begin_transaction": 1, "lookup": 2, "commit": 1}),
    **_DATASTORE,
)
def build_session_write(candidate: bool) -> tuple[Any, RequestSpec]:
    """``GET /count``: the view reads a counter and writes it back.

    The cookie side replays an unchanged cookie, so it always answers ``Ada 1`` and must
    set a new cookie. The Datastore side's counter lives on the server: the checked first
    request answers ``Ada 1`` and later ones count up; no new cookie is required (the id
    does not change), so after the timing the stored counter is read back instead.
    """
    side = SessionApp("bench_session_write", datastore=candidate)
    if candidate:
        side.app.extensions[AUDIT] = side.audit_counter
        return side.app, side.spec("/count", b"Ada 1")
    return side.app, side.spec("/count", b"Ada 1", expect_set_cookie=COOKIE)


@comparison(
    "session-untouched",
    baseline=_COOKIE_SIDE,
    candidate=_DATASTORE_SIDE,
    expect_rpcs=({}, {}),
    **_DATASTORE,
)
def build_session_untouched(candidate: bool) -> tuple[Any, RequestSpec]:
    """``GET /plain`` with a valid session cookie; the view never touches the session."""
    side = SessionApp("bench_session_untouched", datastore=candidate)
    return side.app, side.spec("/plain", b"no session here", expect_no_set_cookie=True)
