"""The noticeboard while Datastore or Cloud Storage is unreachable.

Regressions found by the fault tests of ``tests/load`` (gunicorn under load, emulators
stopped): a logged-in user's pages answered 500 (the 503 error page read the session that
had just failed), so did ``/healthz`` and static files (every request loaded the user),
views whose Datastore calls failed answered 500, and an upload hung for two minutes of
storage-client retries before its 503.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from google.cloud import ndb

import gae.ndb
import gae.storage
from framework import Flask
from gae.emulators import StorageEmulator, free_port
from gae.settings import reload_settings

from .conftest import Users, csrf_from

pytestmark = pytest.mark.emulator


def unreachable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    """Point ``variable`` at a loopback port nobody listens on; fresh clients."""
    monkeypatch.setenv(variable, value)
    # google-cloud-storage (3.17) fetches bucket metadata for its traces on a background
    # thread, retrying for up to two minutes against the dead port: the thread outlives
    # the test and its retry jitter draws from `random` while later (Hypothesis) tests run.
    monkeypatch.setenv("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", "true")
    reload_settings()
    gae.ndb.set_client_factory(None)
    gae.storage.set_client_factory(None)


def test_datastore_down_logged_in_pages_are_503_health_and_static_still_200(
    app: Flask, users: Users, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = users.signup("alice")
    token = csrf_from(alice, "/new")
    unreachable(monkeypatch, "DATASTORE_EMULATOR_HOST", f"127.0.0.1:{free_port()}")

    page = alice.get("/")
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "5"
    assert "Datastore could not be reached" in page.text
    assert "</html>" in page.text  # the site's error page, without the session's flashes

    api = alice.get("/api/posts")
    assert api.status_code == 503
    assert "Datastore could not be reached" in api.json["error"]["message"]

    post = alice.post("/new", data={"title": "t", "text": "x", "csrf_token": token})
    assert post.status_code == 503

    # Answered alike for everyone: the session (and Datastore) is never read.
    assert alice.get("/healthz").status_code == 200
    assert alice.get("/static/style.css").status_code == 200


# ndb raises ServiceUnavailable without retries, RetryError once they are used up.
@pytest.mark.parametrize("retries", [0, 1], ids=["ServiceUnavailable", "RetryError"])
def test_a_view_whose_datastore_call_fails_answers_503(
    app: Flask, monkeypatch: pytest.MonkeyPatch, retries: int
) -> None:
    @app.get("/api/lookup")
    def lookup() -> str:
        ndb.Key("Post", 1).get(retries=retries)
        return "found"

    client = app.test_client()
    unreachable(monkeypatch, "DATASTORE_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    response = client.get("/api/lookup")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "cannot reach its database (Datastore)" in response.json["error"]["message"]


def test_storage_down_upload_is_a_prompt_503_that_records_nothing_then_works(
    app: Flask, users: Users, gcs_emulator: StorageEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = users.signup("alice")
    post_id = users.post(alice)
    token = csrf_from(alice, f"/p/{post_id}")
    png = b"\x89PNG\r\n\x1a\n" + bytes(200)

    def upload() -> tuple[int, str, float]:
        started = time.monotonic()
        response = alice.post(
            f"/p/{post_id}/attachments",
            query_string={"csrf_token": token},
            data={"file": (io.BytesIO(png), "a.png")},
            content_type="multipart/form-data",
        )
        return response.status_code, response.text, time.monotonic() - started

    app.config["GCS_RETRY_SECONDS"] = 1.0
    unreachable(monkeypatch, "STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    status, text, seconds = upload()
    assert status == 503
    assert "Cloud Storage failed while storing" in text
    assert seconds < 6  # the storage client's own default kept retrying for 120 s
    attachments = json.loads(alice.get(f"/api/posts/{post_id}").text)["attachments"]
    assert attachments == []  # no record of a file that was not stored

    unreachable(monkeypatch, "STORAGE_EMULATOR_HOST", gcs_emulator.url)
    status, _, _ = upload()
    assert status == 302
    [attachment] = json.loads(alice.get(f"/api/posts/{post_id}").text)["attachments"]
    assert alice.get(attachment["download"]).data == png


def test_an_attachment_whose_record_may_be_stored_keeps_its_object(
    app: Flask, users: Users, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Datastore committed the record, then the answer was lost (the emulator was stopped
    # mid-call in the fault tests): the 503 must not delete the object the record names.
    from google.api_core.exceptions import ServiceUnavailable

    from sample_app.models import Attachment

    alice = users.signup("alice")
    post_id = users.post(alice)
    token = csrf_from(alice, f"/p/{post_id}")
    committed = Attachment.put

    def put_then_lose_the_answer(self: Attachment, **options: object) -> object:
        committed(self, **options)
        raise ServiceUnavailable("the connection closed before the answer")

    monkeypatch.setattr(Attachment, "put", put_then_lose_the_answer)
    png = b"\x89PNG\r\n\x1a\n" + bytes(300)
    response = alice.post(
        f"/p/{post_id}/attachments",
        query_string={"csrf_token": token},
        data={"file": (io.BytesIO(png), "a.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 503
    monkeypatch.undo()

    [attachment] = json.loads(alice.get(f"/api/posts/{post_id}").text)["attachments"]
    download = alice.get(attachment["download"])
    assert (download.status_code, download.data) == (200, png)
