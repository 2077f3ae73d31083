"""Datastore sessions when Datastore is down, contended, or full of expired sessions."""

from __future__ import annotations

import logging
import os
import threading
import time
import typing as t
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from google.cloud import ndb

import gae.ndb
from framework import Flask, session
from framework.cli import ScriptInfo
from gae import AppEngine, Settings
from gae.emulators import DatastoreEmulator
from gae.sessions import DatastoreSessionInterface
from gae.sessions.cli import sessions as sessions_group
from gae.sessions.store import Store, dumps, session_model
from gae.settings import reload_settings

SECRET = "0123456789abcdef0123456789abcdef-test"
ON_GAE = Settings.from_environ({"GAE_ENV": "standard", "GOOGLE_CLOUD_PROJECT": "test-project"})


def build_app(settings: Settings, interface: DatastoreSessionInterface | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET)

    @app.route("/set/<key>/<value>")
    def set_value(key: str, value: str) -> str:
        session[key] = value
        return "set"

    @app.route("/get/<key>")
    def get_value(key: str) -> str:
        return str(session.get(key))

    AppEngine(app, settings=settings, sessions=True)
    if interface is not None:
        app.session_interface = interface
    return app


class _Env:
    """Point the process's ndb client at one emulator for a test."""

    def __init__(self, emulator: DatastoreEmulator) -> None:
        self.saved = {k: os.environ.get(k) for k in emulator.env}
        os.environ.update(emulator.env)
        reload_settings()
        gae.ndb.set_client_factory(None)

    def restore(self) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reload_settings()
        gae.ndb.set_client_factory(None)


@pytest.fixture
def own_emulator(tmp_path: Path) -> Iterator[DatastoreEmulator]:
    emulator = DatastoreEmulator("test-project", log_dir=tmp_path)
    emulator.start()
    env = _Env(emulator)
    try:
        yield emulator
    finally:
        env.restore()
        emulator.stop()


def test_datastore_down_gives_a_clear_503_and_recovers(
    own_emulator: DatastoreEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(
        Settings.from_environ({}),
        DatastoreSessionInterface(Store(timeout=2.0, retries=0, transaction_retries=0)),
    )
    client = app.test_client()
    assert client.get("/set/a/1").text == "set"

    own_emulator.stop()
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="gae.sessions"):
        read = client.get("/get/a")
        write = client.get("/set/b/2")
    assert time.monotonic() - started < 60
    for response in (read, write):
        assert response.status_code == 503
        assert "temporarily unavailable" in response.text
    assert any("Datastore failed" in r.getMessage() for r in caplog.records)

    own_emulator.start()  # same port; the in-memory data is gone
    # gRPC reconnects with a back-off: the app recovers within a few seconds, by itself.
    deadline = time.monotonic() + 30
    response = client.get("/get/a")
    while response.status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.5)
        response = client.get("/get/a")
    assert response.status_code == 200
    assert response.text == "None"
    assert client.get("/set/c/3").text == "set"
    assert client.get("/get/c").text == "3"


def test_persistent_contention_gives_503_not_500(tmp_path: Path) -> None:
    # Firestore in Datastore mode locks pessimistically, like production: a transaction
    # holding the session entity makes a conflicting one wait, then fail with Aborted.
    emulator = DatastoreEmulator("test-project", mode="firestore", log_dir=tmp_path)
    emulator.start()
    env = _Env(emulator)
    try:
        app = build_app(
            Settings.from_environ({}),
            DatastoreSessionInterface(Store(transaction_retries=0)),
        )
        client = app.test_client()
        client.get("/set/a/1")
        sid = client.get_cookie("session").value.split(".")[0]  # type: ignore[union-attr]

        holding = threading.Event()
        release = threading.Event()

        def hold_lock() -> None:
            with gae.ndb.get_client().context():

                def locked() -> None:
                    ndb.Key("Session", sid).get(use_cache=False)
                    holding.set()
                    release.wait(30)

                ndb.transaction(locked, retries=0)

        holder = threading.Thread(target=hold_lock)
        holder.start()
        try:
            assert holding.wait(30)
            response = client.get("/set/b/2")
        finally:
            release.set()
            holder.join(60)
        assert response.status_code == 503
        assert client.get("/get/a").text == "1"  # nothing lost
    finally:
        env.restore()
        emulator.stop()


def _seed(kind: str, count: int, expires: datetime) -> None:
    model = session_model(kind)
    payload = dumps({"seed": True})
    batch = []
    for n in range(count):
        batch.append(model(id=f"{expires.timestamp():.0f}-{n}", data=payload, expires=expires))
        if len(batch) == 500:
            ndb.put_multi(batch)
            batch = []
    if batch:
        ndb.put_multi(batch)


def test_cleanup_of_ten_thousand_expired_sessions_keeps_the_live_ones(
    datastore_emulator: DatastoreEmulator,
) -> None:
    reload_settings()
    gae.ndb.set_client_factory(None)
    datastore_emulator.reset()
    app = build_app(Settings.from_environ({}))
    past = datetime.now(UTC) - timedelta(days=1)
    future = datetime.now(UTC) + timedelta(days=1)
    with gae.ndb.get_client().context():
        _seed("Session", 10_000, past)
        _seed("Session", 25, future)

    runner = CliRunner()
    result = runner.invoke(
        t.cast(t.Any, sessions_group),
        ["cleanup", "--batch-size", "500"],
        obj=ScriptInfo(create_app=lambda: app),
    )
    assert result.exit_code == 0, result.output
    assert "Deleted 10000 expired session(s): done." in result.output
    with gae.ndb.get_client().context():
        model = session_model("Session")
        assert model.query().count() == 25
        assert model.query(model.expires < datetime.now(UTC)).count() == 0


def test_cleanup_url_is_cron_only_and_bounded(datastore_emulator: DatastoreEmulator) -> None:
    reload_settings()
    gae.ndb.set_client_factory(None)
    datastore_emulator.reset()
    app = build_app(ON_GAE)
    with gae.ndb.get_client().context():
        _seed("Session", 30, datetime.now(UTC) - timedelta(hours=1))
    client = app.test_client()
    assert client.get("/tasks/session-cleanup").status_code == 403
    response = client.get("/tasks/session-cleanup", headers={"X-Appengine-Cron": "true"})
    assert response.get_json() == {"deleted": 30, "finished": True}


def test_cleanup_command_explains_a_cookie_session_app() -> None:
    app = Flask(__name__)
    result = CliRunner().invoke(
        t.cast(t.Any, sessions_group), ["cleanup"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 1
    assert "does not use Datastore sessions" in result.output
