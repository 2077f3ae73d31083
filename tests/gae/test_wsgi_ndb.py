"""The per-request ndb context of gae.wrap, against the real Datastore emulator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import ndb

import gae.ndb
from framework import Flask, stream_with_context
from gae import AppEngine, Settings
from gae.emulators import DatastoreEmulator
from gae.settings import reload_settings


class Visit(ndb.Model):
    path = ndb.StringProperty()
    count = ndb.IntegerProperty(default=0)


@pytest.fixture
def app(datastore_emulator: DatastoreEmulator) -> Iterator[Flask]:
    # The emulator's variables are set now: read them, and build a fresh process client.
    reload_settings()
    gae.ndb.set_client_factory(None)
    datastore_emulator.reset()
    app = Flask(__name__)

    @app.route("/visit/<name>")
    def visit(name: str) -> str:
        entity = Visit.get_by_id(name) or Visit(id=name, path=name)
        entity.count += 1
        entity.put()
        return str(Visit.get_by_id(name).count)

    @app.route("/stream/<name>")
    def stream(name: str) -> object:
        def body() -> Iterator[str]:
            yield "start "
            # Runs after the view returned: the ndb context must still be open.
            yield str(Visit.get_by_id(name).count)

        return app.response_class(body())

    @app.route("/stream-with-context/<name>")
    def stream_ctx(name: str) -> object:
        @stream_with_context
        def body() -> Iterator[str]:
            yield str(Visit.get_by_id(name).count)

        return app.response_class(body())

    AppEngine(app, settings=Settings.from_environ({}))
    yield app
    gae.ndb.set_client_factory(None)


def test_a_view_writes_and_reads_an_entity(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/visit/home").text == "1"
    assert client.get("/visit/home").text == "2"
    assert ndb.context.get_context(False) is None


def test_a_streamed_response_reads_datastore_while_streaming(app: Flask) -> None:
    client = app.test_client()
    client.get("/visit/s").close()
    client.get("/visit/s").close()
    assert client.get("/stream/s").text == "start 2"
    assert client.get("/stream-with-context/s").text == "2"
    assert ndb.context.get_context(False) is None


def test_context_is_left_after_the_response_is_closed(app: Flask) -> None:
    response = app.test_client().get("/visit/c")
    # Until the body is consumed or closed, the request's context is still entered.
    response.close()
    assert ndb.context.get_context(False) is None


def test_an_unread_response_does_not_leak_into_the_next_request(app: Flask) -> None:
    client = app.test_client()
    client.get("/visit/u")  # never read, never closed
    assert client.get("/visit/u").text == "2"
    assert ndb.context.get_context(False) is None


def test_an_active_context_is_reused_not_nested(app: Flask, ndb_context: ndb.Context) -> None:
    Visit(id="pre", path="pre", count=41).put()
    assert app.test_client().get("/visit/pre").text == "42"
    assert ndb.context.get_context() is ndb_context


def test_twenty_concurrent_requests_each_get_their_own_context(app: Flask) -> None:
    seen: dict[int, object] = {}
    barrier = threading.Barrier(20, timeout=30)

    @app.route("/ctx/<int:n>")
    def ctx(n: int) -> str:
        context = ndb.context.get_context()
        barrier.wait()  # all 20 are inside a request at once
        Visit(id=f"t{n}", path=str(n)).put()
        seen[n] = context
        return str(Visit.get_by_id(f"t{n}").path)

    results: dict[int, str] = {}
    after: dict[int, object] = {}

    def worker(n: int) -> None:
        results[n] = app.test_client().get(f"/ctx/{n}").text
        after[n] = ndb.context.get_context(False)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == {n: str(n) for n in range(20)}
    assert len({id(c) for c in seen.values()}) == 20
    assert set(after.values()) == {None}


def test_static_files_get_a_context_for_hooks_that_use_datastore(
    datastore_emulator: DatastoreEmulator, tmp_path: Path
) -> None:
    # A logged-in user's stylesheet request runs the app's before_request hooks (which load
    # the user from Datastore) and may refresh a Datastore session: it needs a context.
    reload_settings()
    gae.ndb.set_client_factory(None)
    datastore_emulator.reset()
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "style.css").write_text("body{}")
    app = Flask(__name__, root_path=str(tmp_path))
    app.config["TESTING"] = True

    @app.before_request
    def load_user() -> None:
        Visit.get_by_id("user")

    AppEngine(app, settings=Settings.from_environ({}))
    try:
        response = app.test_client().get("/static/style.css")
        assert (response.status_code, response.text) == (200, "body{}")
        response.close()
    finally:
        gae.ndb.set_client_factory(None)
