"""defer() against the real Cloud Tasks and Datastore emulators: the task runs in the app."""

from __future__ import annotations

import time
import typing as t
import uuid

import pytest
from google.cloud import ndb

from framework import Flask
from gae.emulators.tasks_testing import TaskQueues
from gae.tasks import TaskError, defer

from . import jobs
from .conftest import wait_for


def note(ndb_client: t.Any, note_id: str) -> jobs.Note | None:
    """The note as Datastore has it now (never from a context's cache)."""
    if ndb.get_context(False) is not None:
        return t.cast("jobs.Note | None", jobs.Note.get_by_id(note_id, use_cache=False))
    with ndb_client.context(cache_policy=False):
        return t.cast("jobs.Note | None", jobs.Note.get_by_id(note_id))


def count(ndb_client: t.Any, kind: str) -> int:
    if ndb.get_context(False) is not None:
        return int(ndb.Query(kind=kind).count())
    with ndb_client.context():
        return int(ndb.Query(kind=kind).count())


def test_defer_runs_in_the_app_and_writes_datastore(
    ctx: t.Any, cloud_tasks: TaskQueues, ndb_client: t.Any
) -> None:
    handle = defer(jobs.write_note, "n1", "hello")
    assert handle.created is True and handle.queue == "default"
    queued = cloud_tasks.list()
    assert [task["function"] for task in queued] == ["tests.gae.tasks.jobs:write_note"]
    assert note(ndb_client, "n1") is None  # nothing ran behind the test's back
    runs = cloud_tasks.run_all()
    assert [(run.function, run.status) for run in runs] == [
        ("tests.gae.tasks.jobs:write_note", 200)
    ]
    stored = note(ndb_client, "n1")
    assert stored is not None and stored.text == "hello" and stored.runs == 1
    assert cloud_tasks.list() == []


def test_defer_from_a_request_of_the_app(
    app: Flask, cloud_tasks: TaskQueues, ndb_client: t.Any
) -> None:
    response = app.test_client().post("/defer-note", data={"id": "n2", "text": "from a view"})
    assert response.status_code == 200
    cloud_tasks.run_all()
    stored = note(ndb_client, "n2")
    assert stored is not None and stored.text == "from a view"


def test_emulator_dispatches_by_itself_and_respects_countdown(
    ctx: t.Any, cloud_tasks: TaskQueues, ndb_client: t.Any
) -> None:
    cloud_tasks.resume("default")
    started = time.monotonic()
    defer(jobs.write_note, "later", "x", _countdown=2)
    defer(jobs.write_note, "now", "y")
    wait_for(lambda: note(ndb_client, "now"))
    assert note(ndb_client, "later") is None
    assert time.monotonic() - started < 2
    wait_for(lambda: note(ndb_client, "later"))
    assert time.monotonic() - started >= 2


def test_named_task_is_enqueued_once(
    ctx: t.Any, cloud_tasks: TaskQueues, ndb_client: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"welcome-{uuid.uuid4().hex}"
    first = defer(jobs.write_note, "named", "first", _name=name)
    with caplog.at_level("INFO", logger="gae.tasks"):
        second = defer(jobs.write_note, "named", "second", _name=name)
    assert (first.created, second.created) == (True, False)
    assert first.name == second.name == name
    assert f"Task {name} already exists in queue default: not enqueued again." in caplog.text
    assert [task["short_name"] for task in cloud_tasks.list()] == [name]
    cloud_tasks.run_all()
    # Cloud Tasks keeps the name taken after the task ran.
    assert defer(jobs.write_note, "named", "third", _name=name).created is False
    cloud_tasks.run_all()
    stored = note(ndb_client, "named")
    assert stored is not None and (stored.text, stored.runs) == ("first", 1)


def test_payload_over_100_kb_is_stored_in_datastore_and_read_back(
    ctx: t.Any, cloud_tasks: TaskQueues, ndb_client: t.Any
) -> None:
    import hashlib
    import os

    blob = os.urandom(300_000)  # incompressible: 400 KB as base64 JSON
    defer(jobs.store_digest, "big", blob, label="random")
    assert count(ndb_client, "GaeTaskPayload") == 1
    (task,) = cloud_tasks.client.list_tasks(parent=cloud_tasks.emulator.queue_path("default"))
    assert len(task.app_engine_http_request.body) < 1000
    cloud_tasks.run_all()
    stored = note(ndb_client, "big")
    assert stored is not None
    assert stored.text == f"random:300000:{hashlib.sha256(blob).hexdigest()}"
    assert count(ndb_client, "GaeTaskPayload") == 0  # deleted after the run


def test_keys_entities_dates_and_tuples_travel_by_value_or_key(
    ctx: t.Any, cloud_tasks: TaskQueues, ndb_client: t.Any
) -> None:
    import datetime as dt

    item = jobs.Item(id="i1", n=1)
    item.put()
    when = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    defer(jobs.describe_entity, "typed", item, item.key, when, (1, 2))
    item.n = 42  # changed after the defer: the task reads the entity when it runs
    item.put()
    cloud_tasks.run_all()
    stored = note(ndb_client, "typed")
    assert stored is not None
    assert stored.text == "42|i1|2024-05-06T07:08:09+00:00|(1, 2)"


def test_task_decorator_defaults_and_overrides(
    ctx: t.Any, cloud_tasks: TaskQueues, ndb_client: t.Any
) -> None:
    handle = jobs.decorated.defer("deco", "hi")
    assert handle.queue == "mail"
    override = jobs.decorated.defer("deco2", "there", _queue="default")
    assert override.queue == "default"
    assert {task["queue"] for task in cloud_tasks.list()} == {"mail", "default"}
    jobs.decorated("direct", "plain call")  # still an ordinary function
    cloud_tasks.run_all()
    assert note(ndb_client, "deco").text == "hi"  # type: ignore[union-attr]
    assert note(ndb_client, "deco2").text == "there"  # type: ignore[union-attr]


def test_bad_arguments_fail_at_defer_time_with_the_fix(ctx: t.Any, cloud_tasks: TaskQueues) -> None:
    with pytest.raises(TypeError, match="argument 1 is a object"):
        defer(jobs.write_note, object(), "x")
    with pytest.raises(TaskError, match="lambda or a nested function"):
        defer(lambda: None)
    with pytest.raises(TaskError, match="countdown or an eta, not both"):
        defer(jobs.write_note, "a", "b", _countdown=1, _eta=time.time())
    with pytest.raises(TaskError, match="Python 2 deferred option"):
        defer(jobs.write_note, "a", "b", _target="v2.worker")
    unsaved = jobs.Item(n=3)
    with pytest.raises(TaskError, match="unsaved TaskItem"):
        defer(jobs.describe_entity, "x", unsaved, None, None, ())
    assert cloud_tasks.list() == []


def test_routing_defaults_to_the_enqueuing_service_and_version(
    ctx: t.Any, cloud_tasks: TaskQueues, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gae.settings import reload_settings

    monkeypatch.setenv("GAE_ENV", "standard")
    monkeypatch.setenv("GAE_SERVICE", "worker")
    monkeypatch.setenv("GAE_VERSION", "v7")
    reload_settings()
    try:
        defer(jobs.write_note, "r1", "x", _name="routed-current")
        defer(jobs.write_note, "r2", "x", _name="routed-default", _version=None)
        defer(jobs.write_note, "r3", "x", _name="routed-other", _service="batch", _version="v2")
    finally:
        monkeypatch.undo()
        reload_settings()
    parent = cloud_tasks.emulator.queue_path("default")
    routing = {
        task.name.rsplit("/", 1)[-1]: (
            task.app_engine_http_request.app_engine_routing.service,
            task.app_engine_http_request.app_engine_routing.version,
        )
        for task in cloud_tasks.client.list_tasks(parent=parent)
    }
    assert routing == {
        "routed-current": ("worker", "v7"),
        "routed-default": ("worker", ""),
        "routed-other": ("batch", "v2"),
    }
