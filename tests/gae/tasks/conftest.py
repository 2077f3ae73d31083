"""An app with the tasks extension on the emulators, and helpers to wait for effects."""

from __future__ import annotations

import time
import typing as t
from collections.abc import Iterator

import pytest

import gae
import gae.ndb
from framework import Flask
from gae.emulators import DatastoreEmulator
from gae.settings import reload_settings

SECRET = "tasks-test-secret-key-0123456789"


def make_app(**config: t.Any) -> Flask:
    app = Flask("tasks_test_app")
    app.config.update(SECRET_KEY=SECRET, TESTING=True, **config)

    @app.post("/defer-note")
    def defer_note() -> dict[str, t.Any]:
        from framework import request
        from gae.tasks import defer

        from . import jobs

        handle = defer(jobs.write_note, request.form["id"], request.form["text"])
        return {"queue": handle.queue, "name": handle.name}

    return gae.wrap(app, tasks=True)


@pytest.fixture
def app(datastore_emulator: DatastoreEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    for key, value in datastore_emulator.env.items():
        monkeypatch.setenv(key, value)
    reload_settings()
    gae.ndb.set_client_factory(None)
    datastore_emulator.reset()
    yield make_app()
    gae.ndb.set_client_factory(None)


@pytest.fixture
def ctx(app: Flask, ndb_client: t.Any) -> Iterator[t.Any]:
    """An app context and an ndb context, as inside a request."""
    with app.app_context(), ndb_client.context() as context:
        yield context


def wait_for(predicate: t.Callable[[], t.Any], timeout: float = 20.0) -> t.Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {predicate}")
        time.sleep(0.05)
