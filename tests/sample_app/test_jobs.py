"""The sample app's background work on Cloud Tasks: attachment scans, the daily digest."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import typing as t

import pytest
from google.cloud import ndb

from framework import Flask
from gae.emulators.tasks_testing import TaskQueues

from .conftest import Users, csrf_from
from .test_attachments import PNG, upload


def _attachments(ndb_client: t.Any) -> list[t.Any]:
    from sample_app.models import Attachment

    with ndb_client.context(cache_policy=False):
        return t.cast("list[t.Any]", Attachment.query().fetch())


def test_upload_is_scanned_in_a_task(
    users: Users, app: Flask, cloud_tasks: TaskQueues, ndb_client: t.Any
) -> None:
    client = users.signup("scanner")
    post_id = users.post(client, "Photo", "attached")
    response = upload(
        client, post_id, csrf_from(client, f"/p/{post_id}"), PNG, "p.png", "image/png"
    )
    assert response.status_code == 302
    [attachment] = _attachments(ndb_client)
    assert attachment.scan is None  # not scanned during the upload request
    assert [task["function"] for task in cloud_tasks.list()] == ["sample_app.jobs:scan_attachment"]
    assert [run.status for run in cloud_tasks.run_all()] == [200]
    [attachment] = _attachments(ndb_client)
    assert attachment.scan == "ok"
    assert attachment.sha256 == hashlib.sha256(PNG).hexdigest()


def test_upload_is_kept_when_cloud_tasks_is_unavailable(
    users: Users,
    app: Flask,
    ndb_client: t.Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import gae.tasks

    monkeypatch.delenv("CLOUD_TASKS_EMULATOR_HOST")
    gae.tasks.set_client_factory(None)
    client = users.signup("noqueue")
    post_id = users.post(client)
    with caplog.at_level(logging.WARNING):
        response = upload(
            client, post_id, csrf_from(client, f"/p/{post_id}"), PNG, "a.png", "image/png"
        )
    assert response.status_code == 302
    [attachment] = _attachments(ndb_client)
    assert attachment.scan is None
    assert "stored but not queued for a scan" in caplog.text
    assert "CLOUD_TASKS_EMULATOR_HOST is not set" in caplog.text


def test_daily_digest_walks_the_days_posts_in_tasks(
    users: Users, app: Flask, cloud_tasks: TaskQueues, ndb_client: t.Any
) -> None:
    from sample_app.jobs import Digest

    alice, bob = users.signup("alice"), users.signup("bobby")
    for client, title in [(alice, "one"), (alice, "two"), (bob, "three")]:
        users.post(client, title, "text")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    cron = app.test_client()
    # Only App Engine Cron may start it: a browser's request is refused.
    assert cron.get(f"/jobs/daily-digest?day={today}").status_code == 403
    app.extensions["appengine"].trust_headers = True  # App Engine sets X-Appengine-Cron
    started = cron.get(f"/jobs/daily-digest?day={today}", headers={"X-Appengine-Cron": "true"})
    assert started.status_code == 200
    assert started.json == {"run": f"digest-{today}", "day": today}
    again = cron.get(f"/jobs/daily-digest?day={today}", headers={"X-Appengine-Cron": "true"})
    assert again.status_code == 200  # a repeated cron call starts nothing new
    cloud_tasks.run_all()
    with ndb_client.context(cache_policy=False):
        digest = Digest.get_by_id(today)
        assert digest is not None and digest.complete
        assert (digest.posts, digest.authors) == (3, {"alice": 2, "bobby": 1})
        assert ndb.Key("GaeIteration", f"digest-{today}").get().status == "done"
    bad = cron.get("/jobs/daily-digest?day=yesterday", headers={"X-Appengine-Cron": "true"})
    assert bad.status_code == 400


def test_task_route_is_refused_to_a_browser(users: Users, app: Flask) -> None:
    # Exempt from the CSRF check (Cloud Tasks sends no token), so guarded instead: only
    # Cloud Tasks (or, locally, the emulator) gets through.
    client = users.signup("mallory")
    response = client.post(
        "/_ah/queue/deferred",
        data=b"{}",
        headers={"X-AppEngine-QueueName": "default", "X-AppEngine-TaskName": "forged"},
    )
    assert response.status_code == 403
