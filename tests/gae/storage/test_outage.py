"""Uploads and downloads while Cloud Storage is unreachable: a 503 within a bound.

google-cloud-storage retries a failed call for up to 120 s by default, so an upload made
while Cloud Storage was down hung for two minutes before its 503 (found by the fault tests
of ``tests/load``). ``GCS_RETRY_SECONDS`` (default 10) bounds it. And ``Storage.keep()``
keeps a failed request's files when a record of them may have been written anyway.

Downloads (issue 17): ``Storage.send`` used the library's default retries and let its
errors escape, so under gunicorn or granian the user got a bare 500 after over a minute,
with the worker thread held; now it is the same bounded 503, with ``Retry-After``.
"""

from __future__ import annotations

import io
import threading
import time
import typing as t

import pytest

from framework import Flask, abort, jsonify
from gae.emulators import StorageEmulator, free_port
from gae.storage import KiB, Storage, UploadPolicy
from gae.storage.client import anonymous_client as anonymous_storage_client

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def make_app(retry_seconds: float | None) -> Flask:
    nobody_there = f"http://127.0.0.1:{free_port()}"
    client = anonymous_storage_client("outage-project", nobody_there)
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k" * 32, GCS_UPLOAD_CHUNK_SIZE=256 * KiB)
    if retry_seconds is not None:
        app.config["GCS_RETRY_SECONDS"] = retry_seconds
    store = Storage(app, bucket="b", client=client, policy=UploadPolicy(max_file_size=KiB**2))

    @app.post("/upload")
    def upload() -> t.Any:
        return jsonify(files=[r.to_dict() for r in store.receive()])

    @app.get("/files/<path:name>")
    def download(name: str) -> t.Any:
        return store.send(name)

    return app


# One request for a small file; a resumable session for one over a chunk.
@pytest.mark.parametrize("size", [2 * KiB, 300 * KiB], ids=["one-request", "resumable"])
def test_upload_while_storage_is_unreachable_is_a_503_within_the_retry_bound(
    size: int,
) -> None:
    client = make_app(retry_seconds=1.0).test_client()
    body = (PNG * (size // len(PNG) + 1))[:size]
    started = time.monotonic()
    response = client.post(
        "/upload",
        data={"file": (io.BytesIO(body), "a.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 503
    assert "Cloud Storage failed while storing" in response.text
    assert "Nothing from this upload was kept" in response.text
    assert time.monotonic() - started < 6


def test_a_download_while_storage_is_unreachable_is_a_503_with_retry_after() -> None:
    client = make_app(retry_seconds=2.0).test_client()
    started = time.monotonic()
    response = client.get("/files/uploads/a")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Cloud Storage could not be reached to send" in response.text
    assert time.monotonic() - started < 30  # bounded (it took the library's 120 s)


def test_a_download_with_the_default_bound_is_a_503_too() -> None:
    # No GCS_RETRY_SECONDS: the default (10 s) applies, not the library's 120 s.
    client = make_app(retry_seconds=None).test_client()
    started = time.monotonic()
    response = client.get("/files/uploads/a")
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert time.monotonic() - started < 60


def test_no_library_thread_outlives_a_request_against_a_dead_storage() -> None:
    # google-cloud-storage fetches a bucket's metadata for OpenTelemetry in a thread of
    # its own on the first call per bucket (traces on or off); against a dead port that
    # thread retried for two minutes after the response. Our clients switch it off.
    client = make_app(retry_seconds=1.0).test_client()
    response = client.post(
        "/upload",
        data={"file": (io.BytesIO(PNG), "a.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 503
    assert [t.name for t in threading.enumerate() if "_fetch_background" in t.name] == []


@pytest.mark.parametrize("value", [0, -1])
def test_retry_seconds_must_be_positive(value: float) -> None:
    app = make_app(retry_seconds=value)
    with app.app_context(), pytest.raises(ValueError, match="GCS_RETRY_SECONDS is"):
        app.extensions["gae.storage"].retry  # noqa: B018


@pytest.mark.emulator
def test_keep_leaves_the_files_of_a_failed_request_in_the_bucket(
    gcs_emulator: StorageEmulator,
) -> None:
    gcs_emulator.reset()
    client = anonymous_storage_client(gcs_emulator.project, gcs_emulator.url)
    app = Flask(__name__)
    store = Storage(app, bucket=gcs_emulator.bucket, client=client)

    @app.post("/upload/<keep>")
    def upload(keep: str) -> t.Any:
        store.receive()
        if keep == "yes":
            store.keep()
        abort(503, "The record's write failed, and may still have been committed.")

    test_client = app.test_client()
    for keep in ("no", "yes"):
        response = test_client.post(
            f"/upload/{keep}",
            data={"file": (io.BytesIO(PNG), "a.png", "image/png")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 503
    # Only the kept request's object is left.
    assert len(list(client.list_blobs(gcs_emulator.bucket))) == 1
