"""Where Storage gets its client, bucket and chunk size; generation preconditions (fake-gcs)."""

from __future__ import annotations

import os
import subprocess
import sys
import typing as t

import pytest
from google.cloud import storage

import gae
from framework import Flask, jsonify
from gae.headers import AppEngineRequestMixin
from gae.settings import Settings
from gae.storage import Storage
from gae.storage.receiver import UploadRequestMixin

BOUNDARY = "client-test-boundary"


def test_the_default_client_is_made_once_and_anonymous_for_the_emulator() -> None:
    code = (
        "from gae.storage import get_client, set_client_factory\n"
        "first = get_client()\n"
        "print(first is get_client(), type(first._credentials).__name__, first.project)\n"
        "set_client_factory(lambda: 'injected')\n"
        "print(get_client())\n"
    )
    env = {
        **os.environ,
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9",
        "GOOGLE_CLOUD_PROJECT": "client-test",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "True AnonymousCredentials client-test"
    assert out[1] == "injected"


def test_the_bucket_comes_from_the_argument_the_config_or_the_environment() -> None:
    app = Flask(__name__)
    from_env = Settings.from_environ({"GOOGLE_CLOUD_PROJECT": "proj"})
    assert Storage(app, settings=from_env).bucket_name == "proj.appspot.com"
    explicit = Settings.from_environ({"GOOGLE_CLOUD_PROJECT": "proj", "GCS_BUCKET": "env-bucket"})
    assert Storage(app, settings=explicit).bucket_name == "env-bucket"
    app.config["GCS_BUCKET"] = "config-bucket"
    assert Storage(app, settings=explicit).bucket_name == "config-bucket"
    assert Storage(app, bucket="arg-bucket", settings=explicit).bucket_name == "arg-bucket"
    with pytest.raises(RuntimeError, match="GCS_BUCKET"):
        Storage(Flask(__name__), settings=Settings.from_environ({})).bucket_name  # noqa: B018


def test_an_injected_client_factory_is_called_once_on_first_use() -> None:
    calls: list[int] = []
    store = Storage(Flask(__name__), bucket="b", client_factory=lambda: calls.append(1) or "c")
    assert calls == []
    assert store.client == "c" and store.client == "c"
    assert calls == [1]


@pytest.mark.parametrize("storage_first", [True, False])
def test_storage_and_the_app_engine_wrapper_combine_in_either_order(storage_first: bool) -> None:
    app = Flask(__name__)
    if storage_first:
        Storage(app, bucket="b")
        gae.wrap(app)
    else:
        gae.wrap(app)
        Storage(app, bucket="b")
    assert issubclass(app.request_class, UploadRequestMixin)
    assert issubclass(app.request_class, AppEngineRequestMixin)
    assert app.extensions["gae.storage"].bucket_name == "b"


def test_a_chunk_size_cloud_storage_cannot_take_is_explained() -> None:
    app = Flask(__name__)
    app.config["GCS_UPLOAD_CHUNK_SIZE"] = 1_000_000
    with pytest.raises(ValueError, match="multiple of 256 KiB"):
        Storage(app).chunk_size  # noqa: B018


# -- fake-gcs-server: it enforces generation preconditions -----------------------------------


def _app(bucket: storage.Bucket, namer: t.Callable[..., str] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["GCS_UPLOAD_CHUNK_SIZE"] = 256 * 1024
    store = Storage(app, bucket=bucket.name, client=bucket.client, object_namer=namer)

    @app.post("/upload")
    def upload() -> t.Any:
        return jsonify([r.to_dict() for r in store.receive()])

    return app


def _post(app: Flask, data: bytes) -> t.Any:
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return app.test_client().post(
        "/upload", data=body, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )


def test_uploads_through_the_app_work_on_fake_gcs_server_too(fake_bucket: storage.Bucket) -> None:
    app = _app(fake_bucket)
    for size in (1000, 3 * 1024 * 1024 + 5):  # one request; a resumable session of 13 chunks
        data = os.urandom(size)
        response = _post(app, data)
        assert response.status_code == 200, response.data
        (record,) = response.get_json()
        blob = fake_bucket.get_blob(record["name"])
        assert blob.download_as_bytes() == data
        assert record["checksum"] == blob.crc32c
        assert record["generation"] == blob.generation


def test_an_existing_object_is_never_replaced(fake_bucket: storage.Bucket) -> None:
    # fake-gcs-server enforces ifGenerationMatch=0 on one-request uploads; it ignores it on
    # resumable sessions and deletes (which Cloud Storage enforces), so only this path
    # can be checked against an emulator.
    fake_bucket.blob("uploads/taken").upload_from_string(b"someone else's file")
    app = _app(fake_bucket, namer=lambda policy: "uploads/taken")
    response = _post(app, os.urandom(1000))
    assert response.status_code == 409, response.data
    assert b"nothing was overwritten" in response.data
    assert fake_bucket.blob("uploads/taken").download_as_bytes() == b"someone else's file"


def test_a_retried_request_that_finds_its_own_object_is_not_a_conflict(
    fake_bucket: storage.Bucket,
) -> None:
    # What the library's retry of a timed-out upload sees: the first attempt stored it.
    data = os.urandom(1000)
    fake_bucket.blob("uploads/mine").upload_from_string(data)
    app = _app(fake_bucket, namer=lambda policy: "uploads/mine")
    response = _post(app, data)
    assert response.status_code == 200, response.data
    assert response.get_json()[0]["name"] == "uploads/mine"
