"""Storage.send: private objects streamed through the app, with Range and validators."""

from __future__ import annotations

import io
import os
import typing as t
from urllib.parse import quote

import pytest
from google.cloud import storage

from framework import Flask
from gae.storage import KiB, Storage, StoredFile
from gae.storage.objects import filename_from_metadata, filename_metadata

DATA = os.urandom(700 * KiB)


def put(
    bucket: storage.Bucket, name: str, data: bytes, content_type: str, filename: str
) -> StoredFile:
    blob = bucket.blob(name)
    blob.metadata = {"original-filename": filename}
    blob.upload_from_string(data, content_type=content_type)
    return StoredFile(
        bucket=bucket.name,
        name=name,
        size=len(data),
        content_type=content_type,
        checksum_algorithm="crc32c",
        checksum=blob.crc32c,
        original_filename=filename,
        generation=blob.generation,
    )


def make_app(bucket: storage.Bucket) -> Flask:
    app = Flask(__name__)
    # 256 KiB pieces: a 700 KiB object takes several reads, as a big one would.
    app.config.update(GCS_DOWNLOAD_CHUNK_SIZE=256 * KiB)
    store = Storage(app, bucket=bucket.name, client=bucket.client)

    @app.get("/files/<path:name>")
    def download(name: str) -> t.Any:
        return store.send(name)

    @app.get("/view/<path:name>")
    def view(name: str) -> t.Any:
        return store.send(name, as_attachment=False, max_age=600)

    @app.get("/record")
    def record() -> t.Any:
        stored = StoredFile.from_dict(app.config["RECORD"])
        return store.send(stored, download_name="chosen name.bin")

    return app


def test_a_download_streams_the_object_with_safe_headers(bucket: storage.Bucket) -> None:
    put(bucket, "uploads/a", DATA, "application/pdf", "r\u00e9sum\u00e9.pdf")
    response = make_app(bucket).test_client().get("/files/uploads/a")
    assert response.status_code == 200
    assert response.data == DATA
    headers = response.headers
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Length"] == str(len(DATA))
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"resume.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    )
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "private, no-cache"
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["ETag"].startswith('"g')
    assert "Last-Modified" in headers


def test_the_object_is_read_in_download_chunks_while_it_is_sent(bucket: storage.Bucket) -> None:
    put(bucket, "uploads/a", DATA, "application/pdf", "a.pdf")
    response = make_app(bucket).test_client().get("/files/uploads/a", buffered=False)
    pieces = [len(piece) for piece in response.iter_encoded()]
    response.close()
    assert pieces == [256 * KiB, 256 * KiB, 188 * KiB]


def test_a_download_chunk_size_that_is_not_positive_is_explained() -> None:
    app = Flask(__name__)
    app.config["GCS_DOWNLOAD_CHUNK_SIZE"] = 0
    with pytest.raises(ValueError, match="GCS_DOWNLOAD_CHUNK_SIZE is 0; set a positive"):
        Storage(app, bucket="b").download_chunk_size  # noqa: B018


def test_a_range_request_gets_exactly_those_bytes(bucket: storage.Bucket) -> None:
    put(bucket, "uploads/a", DATA, "video/mp4", "clip.mp4")
    client = make_app(bucket).test_client()
    response = client.get("/files/uploads/a", headers={"Range": "bytes=100-299999"})
    assert response.status_code == 206
    assert response.data == DATA[100:300000]
    assert response.headers["Content-Range"] == f"bytes 100-299999/{len(DATA)}"
    assert response.headers["Content-Length"] == str(300000 - 100)
    tail = client.get("/files/uploads/a", headers={"Range": "bytes=-10"})
    assert (tail.status_code, tail.data) == (206, DATA[-10:])


def test_a_range_outside_the_file_is_416_and_several_ranges_get_the_whole_file(
    bucket: storage.Bucket,
) -> None:
    put(bucket, "uploads/a", DATA, "video/mp4", "clip.mp4")
    client = make_app(bucket).test_client()
    response = client.get("/files/uploads/a", headers={"Range": f"bytes={len(DATA)}-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(DATA)}"
    both = client.get("/files/uploads/a", headers={"Range": "bytes=0-1,5-6"})
    assert (both.status_code, both.data) == (200, DATA)


def test_validators_give_304_and_if_range_protects_against_a_changed_file(
    bucket: storage.Bucket,
) -> None:
    put(bucket, "uploads/a", DATA, "image/png", "a.png")
    client = make_app(bucket).test_client()
    etag = client.get("/files/uploads/a").headers["ETag"]
    again = client.get("/files/uploads/a", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    stale = client.get("/files/uploads/a", headers={"Range": "bytes=0-9", "If-Range": '"g1"'})
    assert (stale.status_code, stale.data) == (200, DATA)
    fresh = client.get("/files/uploads/a", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert (fresh.status_code, fresh.data) == (206, DATA[:10])


def test_inline_only_for_types_that_cannot_run_as_a_page(bucket: storage.Bucket) -> None:
    put(bucket, "uploads/img", b"\x89PNG\r\n\x1a\n", "image/png", "a.png")
    put(bucket, "uploads/page", b"<script>alert(1)</script>", "text/html", "a.html")
    put(bucket, "uploads/svg", b"<svg onload=alert(1)>", "image/svg+xml", "a.svg")
    client = make_app(bucket).test_client()
    image = client.get("/view/uploads/img")
    assert image.headers["Content-Disposition"] == 'inline; filename="a.png"'
    assert image.headers["Cache-Control"] == "private, max-age=600"
    for name in ("page", "svg"):
        response = client.get(f"/view/uploads/{name}")
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_head_sends_headers_only_and_a_missing_file_is_404(bucket: storage.Bucket) -> None:
    put(bucket, "uploads/a", DATA, "application/pdf", "a.pdf")
    client = make_app(bucket).test_client()
    head = client.head("/files/uploads/a")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(DATA))
    assert head.data == b""
    missing = client.get("/files/uploads/nope")
    assert missing.status_code == 404
    assert b"uploads/nope" in missing.data


def test_a_record_can_be_sent_under_another_name(bucket: storage.Bucket) -> None:
    record = put(bucket, "uploads/r", DATA, "application/octet-stream", "orig.bin")
    app = make_app(bucket)
    app.config["RECORD"] = record.to_dict()
    response = app.test_client().get("/record")
    assert response.data == DATA
    assert response.headers["Content-Disposition"] == 'attachment; filename="chosen name.bin"'


NAMES = [
    "r\u00e9sum\u00e9 \u2713.pdf",
    "\u0434\u0430\u043d\u043d\u044b\u0435.txt",
    "\u5831\u544a.txt",
]


@pytest.mark.parametrize("filename", NAMES)
def test_any_filename_round_trips_through_an_upload_and_a_download(
    bucket: storage.Bucket, filename: str
) -> None:
    # Custom metadata comes back as x-goog-meta-* headers on every download, and the
    # storage emulator dropped the connection on a name outside Latin-1: the download
    # then failed (after two minutes of retries). Names are stored percent-encoded.
    app = make_app(bucket)
    store = app.extensions["gae.storage"]

    @app.post("/upload")
    def upload() -> t.Any:
        return {"name": store.receive()[0].name}

    client = app.test_client()
    body = b"%PDF-1.4 a small file\n" if filename.endswith(".pdf") else b"plain text\n"
    kind = "application/pdf" if filename.endswith(".pdf") else "text/plain"
    created = client.post(
        "/upload",
        data={"file": (io.BytesIO(body), filename, kind)},
        content_type="multipart/form-data",
    )
    assert created.status_code == 200, created.text
    response = client.get(f"/files/{created.get_json()['name']}")
    assert response.status_code == 200
    assert response.data == body
    disposition = response.headers["Content-Disposition"]
    assert disposition.endswith(f"filename*=UTF-8''{quote(filename, safe='')}")
    assert disposition.encode("latin-1")  # a header value browsers and servers accept


def test_filenames_stored_before_the_encoding_still_read_back(bucket: storage.Bucket) -> None:
    # Objects written by earlier versions hold the plain name; ASCII names stay plain.
    put(bucket, "uploads/old", DATA[:10], "text/plain", "old name.txt")
    assert bucket.get_blob("uploads/old").metadata == {"original-filename": "old name.txt"}
    response = make_app(bucket).test_client().get("/files/uploads/old")
    assert response.headers["Content-Disposition"] == 'attachment; filename="old name.txt"'
    assert filename_metadata("UTF-8''x.txt") != {"original-filename": "UTF-8''x.txt"}
    for name in ["a.txt", "UTF-8''x.txt", "100%.txt", *NAMES]:
        assert filename_from_metadata(filename_metadata(name)) == name


def test_a_download_the_emulator_cannot_send_is_a_503_not_a_broken_response(
    bucket: storage.Bucket,
) -> None:
    # An object stored before, with its name raw in the metadata: the emulator still
    # drops the connection when sending it. The first chunk is read before the response
    # starts, so the failure is a clear 503 within GCS_RETRY_SECONDS, not a 500 or a
    # response cut short.
    put(bucket, "uploads/raw", DATA[:10], "text/plain", "\u0434\u0430\u043d\u043d\u044b\u0435.txt")
    app = make_app(bucket)
    app.config["GCS_RETRY_SECONDS"] = 1
    response = app.test_client().get("/files/uploads/raw")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
