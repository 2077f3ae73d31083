"""Datastore sessions while Datastore is unreachable: a prompt 503, one read per request.

Regressions found by the fault tests of ``tests/load``: a session write during an outage
took ~80 s to fail (ndb's transaction retries back off up to a minute each, for an
unreachable Datastore as for contention), and a request whose session read failed read
it again when the response was finalised (a due refresh), turning the 503 into a 500.
"""

from __future__ import annotations

import contextlib
import time
import typing as t
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.exceptions import ServiceUnavailable

import gae.ndb
from framework import Flask, session
from gae import AppEngine, Settings
from gae.emulators import DatastoreEmulator, EmulatorError, free_port
from gae.sessions import DatastoreSessionInterface
from gae.sessions.store import SessionStoreUnavailable, Store, now
from gae.settings import reload_settings

SECRET = "0123456789abcdef0123456789abcdef-outage"


@pytest.fixture
def stopped_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store with one live session ("sid"), whose Datastore has just been stopped."""
    emulator = DatastoreEmulator("outage-project", log_dir=tmp_path)
    try:
        emulator.start()
    except EmulatorError as error:
        pytest.skip(f"Datastore emulator unavailable: {error}")
    for key, value in emulator.env.items():
        monkeypatch.setenv(key, value)
    reload_settings()
    gae.ndb.set_client_factory(None)
    store = Store()  # the defaults DatastoreSessionInterface uses
    try:
        with gae.ndb.get_client().context():
            store.create("sid", {"a": 1}, now() + timedelta(hours=1))
        emulator.stop()
        with gae.ndb.get_client().context():
            yield store
    finally:
        emulator.stop()
        gae.ndb.set_client_factory(None)
        monkeypatch.undo()
        reload_settings()


@pytest.mark.emulator
@pytest.mark.parametrize(
    "action",
    [
        lambda store: store.merge("sid", {"b": 2}, set(), None, now() + timedelta(hours=1)),
        lambda store: store.touch("sid", now() + timedelta(hours=1)),
        lambda store: store.replace_id("sid", "new", {"a": 1}, now() + timedelta(hours=1)),
    ],
    ids=["merge", "touch", "replace_id"],
)
def test_session_writes_fail_promptly_while_datastore_is_down(
    stopped_emulator: Store, action: t.Callable[[Store], object]
) -> None:
    started = time.monotonic()
    with pytest.raises(SessionStoreUnavailable, match="Datastore failed while"):
        action(stopped_emulator)
    # One retry with ndb's back-off (at most 1 + 2 s); it was ~80 s.
    assert time.monotonic() - started < 8


class CountingStore(Store):
    """The real store, counting its reads."""

    def __init__(self) -> None:
        super().__init__(retries=0)
        self.loads = 0

    def load(self, sid: str) -> t.Any:
        self.loads += 1
        return super().load(sid)


@pytest.fixture
def unreachable_datastore(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clients point at a loopback port nobody listens on: every call is refused."""
    monkeypatch.setenv("DATASTORE_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "outage-project")
    reload_settings()
    gae.ndb.set_client_factory(None)
    yield
    gae.ndb.set_client_factory(None)
    monkeypatch.undo()
    reload_settings()


def build_app(store: CountingStore) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, SESSION_DATASTORE_REFRESH_INTERVAL=0)

    @app.get("/twice")
    def twice() -> str:
        with contextlib.suppress(ServiceUnavailable):
            session.get("a")
        return str(session.get("a"))  # the same 503 again, without a second read

    @app.get("/once")
    def once() -> str:
        return str(session.get("a"))

    AppEngine(app, settings=Settings.from_environ({}), sessions=True)
    app.session_interface = DatastoreSessionInterface(store)
    return app


def signed_cookie(app: Flask) -> str:
    signer = t.cast(DatastoreSessionInterface, app.session_interface).signer(app)
    assert signer is not None
    return signer.sign("some-session-id").decode()


@pytest.mark.parametrize("path", ["/once", "/twice"])
@pytest.mark.usefixtures("unreachable_datastore")
def test_a_failed_session_read_is_one_503_not_a_second_read_or_a_500(path: str) -> None:
    store = CountingStore()
    app = build_app(store)
    client = app.test_client()
    # A refresh is due for every cookie (interval 0): finalising the response must not
    # read the session again, which used to raise there and turn the 503 into a 500.
    client.set_cookie("session", signed_cookie(app))
    response = client.get(path)
    assert response.status_code == 503
    assert "Datastore could not be reached" in response.text
    assert store.loads == 1
