"""Transactional enqueue: a task only if, and once when, the transaction commits."""

from __future__ import annotations

import threading
import typing as t

import pytest
from google.cloud import ndb

from gae.emulators.tasks_testing import TaskQueues
from gae.tasks import TaskError, defer

from . import jobs


def test_commit_enqueues_and_rollback_does_not(ctx: t.Any, cloud_tasks: TaskQueues) -> None:
    def commits() -> None:
        jobs.Note(id="committed", text="saved").put()
        handle = defer(jobs.write_note, "after-commit", "x", _transactional=True)
        assert handle.created is None  # pending until the commit
        assert cloud_tasks.list() == []

    ndb.transaction(commits)
    assert [task["function"] for task in cloud_tasks.list()] == ["tests.gae.tasks.jobs:write_note"]

    class Rollback(Exception):
        pass

    def rolls_back() -> None:
        jobs.Note(id="rolled-back", text="never").put()
        defer(jobs.write_note, "after-rollback", "x", _transactional=True)
        raise Rollback

    with pytest.raises(Rollback):
        ndb.transaction(rolls_back)
    assert len(cloud_tasks.list()) == 1
    assert jobs.Note.get_by_id("rolled-back", use_cache=False) is None


def test_large_transactional_payload_is_rolled_back_with_the_transaction(
    ctx: t.Any, cloud_tasks: TaskQueues
) -> None:
    def rolls_back() -> None:
        defer(jobs.store_digest, "x", b"\0" * 200_000, "zeros", _transactional=True)
        raise RuntimeError("rollback")

    with pytest.raises(RuntimeError):
        ndb.transaction(rolls_back)
    assert ndb.Query(kind="GaeTaskPayload").count() == 0
    assert cloud_tasks.list() == []


def test_retried_transaction_enqueues_once(
    ctx: t.Any, cloud_tasks: TaskQueues, ndb_client: t.Any
) -> None:
    jobs.Note(id="counter", runs=0).put()
    attempts: list[int] = []
    conflict_written = threading.Event()

    def conflicting_write() -> None:
        # Another client writes the same entity while the first attempt is open, so its
        # commit fails with a conflict and ndb runs the function again.
        with ndb_client.context():
            note = jobs.Note.get_by_id("counter", use_cache=False)
            note.runs += 100
            note.put()
        conflict_written.set()

    def increment() -> None:
        attempts.append(1)
        note = jobs.Note.get_by_id("counter", use_cache=False)
        defer(jobs.write_note, "txn-task", f"attempt {len(attempts)}", _transactional=True)
        if len(attempts) == 1:
            thread = threading.Thread(target=conflicting_write)
            thread.start()
            thread.join()
            assert conflict_written.is_set()
        note.runs += 1
        note.put()

    ndb.transaction(increment, retries=3)
    assert len(attempts) >= 2  # the conflict made ndb retry the function
    queued = cloud_tasks.list()
    assert len(queued) == 1  # the failed attempt's task was dropped with it
    cloud_tasks.run_all()
    assert jobs.Note.get_by_id("txn-task", use_cache=False).text == f"attempt {len(attempts)}"
    assert jobs.Note.get_by_id("counter", use_cache=False).runs == 101


def test_transactional_outside_a_transaction_is_an_error(
    ctx: t.Any, cloud_tasks: TaskQueues
) -> None:
    with pytest.raises(TaskError, match="needs an ndb transaction"):
        defer(jobs.write_note, "x", "y", _transactional=True)
    assert cloud_tasks.list() == []
