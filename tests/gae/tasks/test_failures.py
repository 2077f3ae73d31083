"""Failure semantics: retried with back-off until success, permanent failures stop, logs."""

from __future__ import annotations

import logging
import typing as t

import pytest

from gae.emulators.tasks_testing import TaskQueues, TasksStillFailing
from gae.tasks import defer

from . import jobs
from .conftest import wait_for


def _note(note_id: str) -> jobs.Note | None:
    return t.cast("jobs.Note | None", jobs.Note.get_by_id(note_id, use_cache=False))


def test_failing_task_is_retried_by_the_emulator_then_succeeds(
    ctx: t.Any, cloud_tasks: TaskQueues, caplog: pytest.LogCaptureFixture
) -> None:
    cloud_tasks.resume("default")
    with caplog.at_level(logging.INFO, logger="gae.tasks"):
        defer(jobs.flaky, "flaky", 2)
        wait_for(lambda: _note("flaky-done"))
    note = _note("flaky")
    assert note is not None
    assert note.runs == 3
    assert note.retry_counts == [0, 1, 2]  # X-AppEngine-TaskRetryCount on each delivery
    failures = [r for r in caplog.records if "failed; Cloud Tasks will retry it" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info for r in failures)


def test_run_all_delivers_a_failing_task_again_with_its_retry_count(
    ctx: t.Any, cloud_tasks: TaskQueues
) -> None:
    defer(jobs.flaky, "flaky2", 1)
    runs = cloud_tasks.run_all()
    assert [(run.status, run.retry) for run in runs] == [(500, 0), (200, 1)]


def test_permanent_failure_stops_and_is_logged(
    ctx: t.Any, cloud_tasks: TaskQueues, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gae.tasks"):
        defer(jobs.gives_up, "permanent")
        runs = cloud_tasks.run_all()
    assert [run.status for run in runs] == [200]
    assert cloud_tasks.list() == []
    assert _note("permanent").runs == 1  # type: ignore[union-attr]
    (record,) = [r for r in caplog.records if "failed permanently" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert "the thing this task needs is gone" in record.getMessage()


def test_retries_limit_gives_up_after_that_many_retries(
    ctx: t.Any, cloud_tasks: TaskQueues, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gae.tasks"):
        defer(jobs.always_fails, "limited", _retries=2)
        runs = cloud_tasks.run_all()
    assert [(run.status, run.retry) for run in runs] == [(500, 0), (500, 1), (200, 2)]
    assert _note("limited").runs == 3  # type: ignore[union-attr]
    assert any("no retries left" in r.getMessage() for r in caplog.records)


def test_run_all_reports_tasks_that_keep_failing(ctx: t.Any, cloud_tasks: TaskQueues) -> None:
    defer(jobs.always_fails, "forever")
    with pytest.raises(TasksStillFailing, match=r"always_fails"):
        cloud_tasks.run_all(max_attempts=3)
    assert _note("forever").runs == 3  # type: ignore[union-attr]


def test_every_run_logs_task_name_retry_and_the_enqueuing_trace(
    app: t.Any, cloud_tasks: TaskQueues, caplog: pytest.LogCaptureFixture
) -> None:
    trace = "0123456789abcdef0123456789abcdef"
    app.config["GAE_TRUST_HEADERS"] = True  # as on App Engine, which sets the header
    app.extensions["appengine"].trust_headers = True
    response = app.test_client().post(
        "/defer-note",
        data={"id": "traced", "text": "t"},
        headers={"X-Cloud-Trace-Context": f"{trace}/1;o=1"},
    )
    assert response.status_code == 200
    with caplog.at_level(logging.INFO, logger="gae.tasks"):
        (run,) = cloud_tasks.run_all()
    (line,) = [r.getMessage() for r in caplog.records if "running" in r.getMessage()]
    assert line == (
        f"Task {run.name} (queue default, retry 0) running "
        f"tests.gae.tasks.jobs:write_note, enqueued by trace {trace}"
    )


def test_age_limit_gives_up_once_the_task_is_that_old(ctx: t.Any, cloud_tasks: TaskQueues) -> None:
    defer(jobs.always_fails, "aged", _age_limit=0)
    runs = cloud_tasks.run_all()
    assert [(run.status, run.retry) for run in runs] == [(200, 0)]
    assert _note("aged").runs == 1  # type: ignore[union-attr]
