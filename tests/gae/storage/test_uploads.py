"""Uploads through the app into the Cloud Storage emulator: limits, types, failures, cleanup.

Every test runs against the real gcp-storage-emulator (never a mocked client) and looks at
what the bucket holds afterwards: a rejected, truncated or failed upload leaves nothing.
Small chunk sizes (256 KiB) make small files take the multi-chunk resumable path, so the
"chunks already sent, then something fails" cases are covered in milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import threading
import typing as t
from collections.abc import Iterator

import google_crc32c
import pytest
import requests
from google.cloud import storage
from werkzeug.serving import make_server

from framework import Flask, abort, jsonify, request
from gae.storage import KiB, MiB, Storage, StoredFile, UploadPolicy, resumable
from gae.storage.receiver import parser_read_size
from gae.storage.stream import ONE_REQUEST_LIMIT

CHUNK = 256 * KiB
BOUNDARY = "test-boundary-5f2a"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + bytes(range(256)) * 4


def png(size: int) -> bytes:
    """A PNG signature followed by random bytes: ``size`` bytes in all."""
    return PNG[:8] + os.urandom(size - 8)


def names(bucket: storage.Bucket) -> list[str]:
    return sorted(blob.name for blob in bucket.client.list_blobs(bucket.name))


def make_app(
    bucket: storage.Bucket, chunk_size: int = CHUNK, **policy: t.Any
) -> tuple[Flask, Storage]:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k" * 32, GCS_UPLOAD_CHUNK_SIZE=chunk_size)
    store = Storage(app, bucket=bucket.name, client=bucket.client, policy=UploadPolicy(**policy))

    @app.post("/upload")
    def upload() -> t.Any:
        records = store.receive()
        return jsonify(files=[r.to_dict() for r in records], form=request.form.to_dict())

    @app.post("/upload-twice")
    def upload_twice() -> t.Any:
        assert store.receive() == store.receive()
        return "ok"

    @app.post("/upload-then-refuse")
    def upload_then_refuse() -> t.Any:
        store.receive()
        abort(422, "The app did not like the title.")

    @app.post("/upload-then-crash")
    def upload_then_crash() -> t.Any:
        store.receive()
        raise RuntimeError("database down")

    @app.post("/form-first")
    def form_first() -> t.Any:
        request.form.get("title")
        return jsonify(files=[r.to_dict() for r in store.receive()])

    return app, store


def multipart(*parts: tuple[str, str | None, str | None, bytes]) -> bytes:
    """A multipart/form-data body from (field, filename, content type, data) parts."""
    out = io.BytesIO()
    for field, filename, content_type, data in parts:
        out.write(f"--{BOUNDARY}\r\n".encode())
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out.write(f"Content-Disposition: {disposition}\r\n".encode())
        if content_type is not None:
            out.write(f"Content-Type: {content_type}\r\n".encode())
        out.write(b"\r\n" + data + b"\r\n")
    out.write(f"--{BOUNDARY}--\r\n".encode())
    return out.getvalue()


class Body(io.RawIOBase):
    """A request body that counts what was read and can break off like a lost client."""

    def __init__(self, data: bytes, *, cut_at: int | None = None, error: bool = True) -> None:
        self.data = data
        self.position = 0
        self.cut_at = cut_at
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: t.Any) -> int:
        end = len(self.data) if self.cut_at is None else self.cut_at
        if self.position >= end:
            if self.cut_at is not None and self.error:
                raise ConnectionResetError("the client went away")
            return 0
        piece = self.data[self.position : min(end, self.position + len(buffer))]
        buffer[: len(piece)] = piece
        self.position += len(piece)
        return len(piece)


def post(app: Flask, body: bytes | Body, path: str = "/upload", *, chunked: bool = False) -> t.Any:
    """POST a multipart body; ``chunked`` sends it without a length, as a streaming client."""
    stream = body if isinstance(body, Body) else Body(body)
    environ: dict[str, t.Any] = {
        "wsgi.input": stream,
        "CONTENT_LENGTH": str(len(stream.data)),
        # Set here: the test client would encode a multipart body with its own boundary.
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
    }
    if chunked:
        # What a server that de-chunks the body itself passes on (werkzeug, gunicorn).
        environ.update(
            {
                "CONTENT_LENGTH": "",
                "HTTP_TRANSFER_ENCODING": "chunked",
                "wsgi.input_terminated": True,
            }
        )
    return app.test_client().post(path, environ_overrides=environ)


# -- what gets stored ----------------------------------------------------------------------


def test_a_file_is_stored_under_a_generated_name_with_a_verified_record(
    bucket: storage.Bucket,
) -> None:
    app, _ = make_app(bucket)
    body = multipart(("title", None, None, b"Holiday"), ("photo", "../../me.png", "image/png", PNG))
    response = post(app, body)
    assert response.status_code == 200, response.data
    data = response.get_json()
    assert data["form"] == {"title": "Holiday"}
    (record,) = (StoredFile.from_dict(f) for f in data["files"])
    assert record.name.startswith("uploads/") and "me" not in record.name
    assert len(record.name) == len("uploads/") + 32
    assert record.original_filename == "me.png"
    assert (record.size, record.content_type, record.field) == (len(PNG), "image/png", "photo")
    blob = bucket.get_blob(record.name)
    assert record.generation == blob.generation
    assert blob.download_as_bytes() == PNG
    assert blob.content_type == "image/png"
    assert blob.metadata == {"original-filename": "me.png"}
    expected_crc = base64.b64encode(google_crc32c.Checksum(PNG).digest()).decode()
    assert record.checksum_algorithm == "crc32c"
    assert record.checksum == blob.crc32c == expected_crc
    assert names(bucket) == [record.name]


@pytest.mark.parametrize("checksum", ["crc32c", "md5"])
def test_a_file_larger_than_a_chunk_streams_through_a_resumable_upload(
    bucket: storage.Bucket, checksum: str
) -> None:
    app, _ = make_app(bucket, max_file_size=4 * MiB, checksum=checksum)
    data = png(5 * CHUNK + 12345)
    response = post(app, multipart(("f", "big.png", "image/png", data)))
    assert response.status_code == 200, response.data
    record = StoredFile.from_dict(response.get_json()["files"][0])
    blob = bucket.get_blob(record.name)
    assert blob.download_as_bytes() == data
    assert blob.metadata == {"original-filename": "big.png"}
    reported = blob.crc32c if checksum == "crc32c" else blob.md5_hash
    digest = (
        google_crc32c.Checksum(data).digest()
        if checksum == "crc32c"
        else hashlib.md5(data, usedforsecurity=False).digest()
    )
    assert record.checksum == reported == base64.b64encode(digest).decode()
    assert record.size == len(data)


@pytest.fixture
def session_puts() -> Iterator[list[str]]:
    """The Content-Range of every PUT to a resumable session URI (watched, not changed)."""
    spans: list[str] = []

    def watching() -> requests.Session:
        session = requests.Session()

        def watch(response: requests.Response, *args: t.Any, **kwargs: t.Any) -> None:
            if response.request.method == "PUT":
                spans.append(str(response.request.headers.get("Content-Range")))

        session.hooks["response"].append(watch)
        return session

    resumable.set_session_factory(watching)
    yield spans
    resumable.set_session_factory(None)


def stored_as(bucket: storage.Bucket, response: t.Any, *data: bytes) -> list[StoredFile]:
    """The records of a 200 response, each checked against the bytes in the bucket."""
    assert response.status_code == 200, response.data
    records = [StoredFile.from_dict(f) for f in response.get_json()["files"]]
    assert [bucket.get_blob(r.name).download_as_bytes() for r in records] == list(data)
    assert names(bucket) == sorted(r.name for r in records)
    return records


def test_each_size_takes_the_fewest_requests_from_one_buffer(
    bucket: storage.Bucket, session_puts: list[str]
) -> None:
    chunk = 4 * MiB
    app, _ = make_app(bucket, chunk_size=chunk, max_file_size=16 * MiB)
    # Up to ONE_REQUEST_LIMIT: one ordinary upload request, no session.
    small = png(ONE_REQUEST_LIMIT)
    stored_as(bucket, post(app, multipart(("f", "a.png", "image/png", small))), small)
    assert session_puts == []
    # Over it but within a chunk: a session of known size, sent in one request.
    medium = png(ONE_REQUEST_LIMIT + 1)
    post_medium = post(app, multipart(("f", "b.png", "image/png", medium)))
    assert post_medium.status_code == 200, post_medium.data
    assert session_puts == [f"bytes 0-{len(medium) - 1}/{len(medium)}"]
    # Over a chunk: full chunks while the file arrives, then the rest with the total.
    session_puts.clear()
    large = png(2 * chunk + 5)
    post_large = post(app, multipart(("f", "c.png", "image/png", large)))
    assert post_large.status_code == 200, post_large.data
    assert session_puts == [
        f"bytes 0-{chunk - 1}/*",
        f"bytes {chunk}-{2 * chunk - 1}/*",
        f"bytes {2 * chunk}-{len(large) - 1}/{len(large)}",
    ]
    records = [StoredFile.from_dict(r.get_json()["files"][0]) for r in (post_medium, post_large)]
    assert [bucket.get_blob(r.name).download_as_bytes() for r in records] == [medium, large]


def test_files_of_any_size_and_order_in_one_form(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket, chunk_size=4 * MiB, max_file_size=16 * MiB, max_files=3)
    first, second, third = png(3 * MiB), png(3 * MiB + 5), png(5 * MiB)
    body = multipart(
        ("a", "a.png", "image/png", first),
        ("title", None, None, b"between"),
        ("b", "b.png", "image/png", second),
        ("c", "c.png", "image/png", third),
    )
    records = stored_as(bucket, post(app, body), first, second, third)
    assert [r.field for r in records] == ["a", "b", "c"]


def test_a_body_without_the_final_line_break_is_stored_whole(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket, chunk_size=4 * MiB, max_file_size=16 * MiB)
    data = png(3 * MiB)
    body = multipart(("f", "a.png", "image/png", data))
    assert body.endswith(b"--\r\n")
    stored_as(bucket, post(app, body[:-2]), data)


def test_several_files_come_back_in_form_order(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket, max_files=3)
    body = multipart(
        ("a", "1.txt", "text/plain", b"one"),
        ("b", "2.png", "image/png", PNG),
        ("a", "3.csv", "text/csv", b"x,y\n1,2\n"),
    )
    files = post(app, body).get_json()["files"]
    assert [(f["field"], f["original_filename"]) for f in files] == [
        ("a", "1.txt"),
        ("b", "2.png"),
        ("a", "3.csv"),
    ]
    assert len(names(bucket)) == 3


def test_receive_twice_returns_the_same_records(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket)
    assert post(app, multipart(("f", "a.txt", None, b"hi")), "/upload-twice").data == b"ok"
    assert len(names(bucket)) == 1


def test_an_empty_file_input_is_skipped_and_an_empty_file_refused(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket)
    nothing_chosen = multipart(("f", "", "application/octet-stream", b""))
    response = post(app, nothing_chosen)
    assert response.status_code == 200
    assert response.get_json()["files"] == []
    response = post(app, multipart(("f", "empty.txt", "text/plain", b"")))
    assert response.status_code == 400
    assert b"empty.txt" in response.data and b"is empty" in response.data
    assert names(bucket) == []


# -- limits ----------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_as_soon_as_it_crosses_it(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket, max_file_size=600 * KiB)
    body = Body(multipart(("f", "huge.png", "image/png", png(3 * MiB))))
    response = post(app, body)
    assert response.status_code == 413
    assert b"600 KiB (614,400 bytes) per file" in response.data
    assert b"huge.png" in response.data
    # Chunks had gone out (the limit is over two chunks); the session is gone with them.
    # Refused in the parser's read that crossed the limit (Flask's MAX_FORM_MEMORY_SIZE).
    assert body.position <= 600 * KiB + parser_read_size(500_000)
    assert names(bucket) == []


def test_a_request_over_the_limit_is_refused_before_its_body_is_read(
    bucket: storage.Bucket,
) -> None:
    app, _ = make_app(bucket, max_request_size=1 * MiB, max_file_size=8 * MiB)
    body = Body(multipart(("f", "a.png", "image/png", png(2 * MiB))))
    response = post(app, body)
    assert response.status_code == 413
    assert b"1 MiB (1,048,576 bytes)" in response.data
    assert body.position == 0
    assert names(bucket) == []


def test_a_streamed_request_without_length_is_cut_off_at_the_limit(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket, max_request_size=1 * MiB, max_file_size=8 * MiB)
    body = Body(multipart(("f", "a.png", "image/png", png(3 * MiB))))
    response = post(app, body, chunked=True)
    assert response.status_code == 413
    assert b"1 MiB (1,048,576 bytes)" in response.data
    assert body.position < 1 * MiB + 128 * KiB
    assert names(bucket) == []


def test_too_many_files_are_refused_and_the_first_ones_removed(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket, max_files=2)
    body = multipart(*[("f", f"{i}.txt", "text/plain", b"text %d" % i) for i in range(3)])
    response = post(app, body)
    assert response.status_code == 413
    assert b"more than 2 files" in response.data
    assert names(bucket) == []


def test_a_later_file_over_the_limit_removes_the_stored_earlier_one(
    bucket: storage.Bucket,
) -> None:
    app, _ = make_app(bucket, max_file_size=300 * KiB)
    body = multipart(
        ("a", "small.png", "image/png", png(1000)),
        ("b", "big.png", "image/png", png(MiB)),
    )
    response = post(app, body)
    assert response.status_code == 413
    assert b"big.png" in response.data
    assert names(bucket) == []


# -- types -----------------------------------------------------------------------------------


def test_content_that_is_not_the_declared_type_is_refused(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket, allowed_types={"image/png", "image/jpeg"})
    html = b"<html><script>alert(document.cookie)</script>" + b" " * (3 * CHUNK)
    response = post(app, multipart(("f", "cat.png", "image/png", html)))
    assert response.status_code == 415
    assert b"declared as &#39;image/png&#39;" in response.data
    assert names(bucket) == []


def test_a_type_outside_the_policy_is_refused_before_the_file_is_read(
    bucket: storage.Bucket,
) -> None:
    app, _ = make_app(bucket, allowed_types={"image/*"}, max_file_size=8 * MiB)
    body = Body(multipart(("f", "page.html", "text/html", b"<p>" * MiB)))
    response = post(app, body)
    assert response.status_code == 415
    assert b"&#39;image/*&#39;" in response.data
    assert body.position <= 128 * KiB
    assert names(bucket) == []


def test_an_extension_outside_the_policy_is_refused(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket, allowed_extensions={"png", "jpg"})
    response = post(app, multipart(("f", "cat.exe", "image/png", PNG)))
    assert response.status_code == 415
    assert b"&#39;.exe&#39;" in response.data and b"&#39;.png&#39;" in response.data
    assert names(bucket) == []


def test_a_body_that_is_not_multipart_gets_415(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket)
    response = app.test_client().post("/upload", json={"file": "data"})
    assert response.status_code == 415
    assert b"multipart/form-data" in response.data


def test_a_malformed_multipart_body_gets_400_not_500(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket)
    response = app.test_client().post(
        "/upload", data=b"garbage", content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert b"could not be read" in response.data
    assert names(bucket) == []


# -- failures after bytes went out -----------------------------------------------------------


def test_a_client_that_disconnects_mid_upload_leaves_nothing(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket, max_file_size=8 * MiB)
    data = multipart(
        ("a", "first.png", "image/png", png(3000)),
        ("b", "second.png", "image/png", png(2 * MiB)),
    )
    body = Body(data, cut_at=MiB)  # after the first file and several chunks of the second
    response = post(app, body)
    assert response.status_code == 400
    assert body.position == MiB
    assert names(bucket) == []


def test_a_body_that_ends_inside_a_file_leaves_nothing(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket, max_file_size=8 * MiB)
    body = Body(multipart(("f", "a.png", "image/png", png(MiB))), cut_at=700 * KiB, error=False)
    response = post(app, body, chunked=True)
    assert response.status_code == 400
    assert b"could not be read" in response.data and b"nothing was kept" in response.data
    assert names(bucket) == []


def test_an_error_response_after_receive_removes_the_files(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket)
    response = post(app, multipart(("f", "a.png", "image/png", PNG)), "/upload-then-refuse")
    assert response.status_code == 422
    assert names(bucket) == []
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = post(app, multipart(("f", "a.png", "image/png", PNG)), "/upload-then-crash")
    assert response.status_code == 500
    assert names(bucket) == []


def test_an_unhandled_error_propagating_in_tests_still_removes_the_files(
    bucket: storage.Bucket,
) -> None:
    app, _ = make_app(bucket)
    app.testing = True
    with pytest.raises(RuntimeError, match="database down"):
        post(app, multipart(("f", "a.png", "image/png", PNG)), "/upload-then-crash")
    assert names(bucket) == []


def test_a_missing_bucket_is_a_503_that_names_it(
    bucket: storage.Bucket, storage_client: storage.Client
) -> None:
    app, _ = make_app(storage_client.bucket("no-such-bucket"), max_file_size=8 * MiB)
    for size in (1000, MiB):  # one request, and a resumable session
        response = post(app, multipart(("f", "a.png", "image/png", png(size))))
        assert response.status_code == 503
        assert b"no-such-bucket" in response.data and b"GCS_BUCKET" in response.data


def test_receive_after_the_form_was_read_explains_the_mistake(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket)
    app.testing = True
    with pytest.raises(RuntimeError, match=r"call storage\.receive\(\) before reading the form"):
        post(app, multipart(("f", "a.txt", "text/plain", b"hi")), "/form-first")
    assert names(bucket) == []


def csrf_app(bucket: storage.Bucket, *, marked: bool) -> Flask:
    """An app whose before_request hook reads the form first, as CSRF protection does."""
    app, store = make_app(bucket)

    @app.before_request
    def check_csrf() -> t.Any:
        if request.method == "POST" and request.form.get("csrf") != "good":
            abort(403, "Bad CSRF token.")
        return None

    def photos() -> t.Any:
        files = store.receive()
        return jsonify(files=[f.to_dict() for f in files], form=request.form.to_dict())

    def ignores_files() -> t.Any:
        return "did not look at the files"

    if marked:
        photos = store.accepts_uploads(UploadPolicy(max_file_size=2 * KiB))(photos)
        ignores_files = store.accepts_uploads()(ignores_files)
    app.add_url_rule("/photos", view_func=photos, methods=["POST"])
    app.add_url_rule("/ignores-files", view_func=ignores_files, methods=["POST"])
    return app


def test_a_marked_view_gets_its_files_even_when_a_hook_read_the_form_first(
    bucket: storage.Bucket,
) -> None:
    app = csrf_app(bucket, marked=True)
    body = multipart(("csrf", None, None, b"good"), ("f", "a.png", "image/png", PNG))
    response = post(app, body, "/photos")
    assert response.status_code == 200, response.data
    assert response.get_json()["form"] == {"csrf": "good"}
    assert len(names(bucket)) == 1
    # The view's own policy applies (2 KiB here), whoever parsed the form.
    too_big = multipart(("csrf", None, None, b"good"), ("f", "b.png", "image/png", png(5000)))
    response = post(app, too_big, "/photos")
    assert response.status_code == 413 and b"2 KiB" in response.data
    assert len(names(bucket)) == 1


def test_files_a_refused_or_ignoring_request_stored_are_removed(bucket: storage.Bucket) -> None:
    app = csrf_app(bucket, marked=True)
    forged = multipart(("csrf", None, None, b"evil"), ("f", "a.png", "image/png", PNG))
    assert post(app, forged, "/photos").status_code == 403
    ignored = multipart(("csrf", None, None, b"good"), ("f", "a.png", "image/png", PNG))
    assert post(app, ignored, "/ignores-files").status_code == 200
    assert names(bucket) == []


def test_without_the_mark_a_hook_that_read_the_form_first_is_explained(
    bucket: storage.Bucket,
) -> None:
    app = csrf_app(bucket, marked=False)
    app.testing = True
    body = multipart(("csrf", None, None, b"good"), ("f", "a.png", "image/png", PNG))
    with pytest.raises(RuntimeError, match=r"@storage\.accepts_uploads\(\)"):
        post(app, body, "/photos")


def guarded_app(bucket: storage.Bucket) -> Flask:
    """A hook that reads the form first (a CSRF check reading the body), and a view whose
    upload guard decides from the headers alone, before the body is read."""
    app, store = make_app(bucket, max_file_size=4 * MiB)
    calls: list[str] = []
    app.config["guard_calls"] = calls

    @app.before_request
    def reads_the_form_first() -> None:
        if request.path == "/guarded":
            request.form.get("title")

    def allow() -> bool:
        calls.append(request.path)
        who = request.headers.get("X-User")
        if who is None:
            abort(401, "Log in first.")
        return who == "owner"  # False: the guard refuses (403)

    @app.post("/guarded")
    @store.accepts_uploads(allow=allow)
    def guarded() -> t.Any:
        return jsonify(files=[f.to_dict() for f in store.receive()])

    @app.post("/guarded-in-view")
    @store.accepts_uploads(allow=allow)
    def guarded_in_view() -> t.Any:
        # Nothing read the form before: receive() runs the guard first.
        return jsonify(files=[f.to_dict() for f in store.receive()])

    return app


def test_an_upload_guard_refuses_before_a_byte_of_the_body_is_read(
    bucket: storage.Bucket,
) -> None:
    app = guarded_app(bucket)
    data = png(3 * MiB)
    cases = [(None, 401, "/guarded"), ("stranger", 403, "/guarded"), ("x", 403, "/guarded-in-view")]
    for user, status, path in cases:
        body = Body(multipart(("title", None, None, b"t"), ("f", "a.png", "image/png", data)))
        headers = {"HTTP_X_USER": user} if user else {}
        stream_environ = {
            "wsgi.input": body,
            "CONTENT_LENGTH": str(len(body.data)),
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
            **headers,
        }
        response = app.test_client().post(path, environ_overrides=stream_environ)
        assert response.status_code == status, response.data
        assert body.position == 0  # not one byte of the body was read, so none was stored
    assert names(bucket) == []
    assert app.config["guard_calls"] == [path for _, _, path in cases]
    owner = Body(multipart(("title", None, None, b"t"), ("f", "a.png", "image/png", data)))
    response = app.test_client().post(
        "/guarded",
        environ_overrides={
            "wsgi.input": owner,
            "CONTENT_LENGTH": str(len(owner.data)),
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
            "HTTP_X_USER": "owner",
        },
    )
    assert response.status_code == 200, response.data
    assert [f["size"] for f in response.get_json()["files"]] == [len(data)]
    assert len(names(bucket)) == 1


def test_a_real_socket_closed_mid_upload_leaves_nothing(bucket: storage.Bucket) -> None:
    app, _ = make_app(bucket, max_file_size=16 * MiB)
    finished = threading.Event()
    app.teardown_request(lambda error: finished.set())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        body = multipart(("f", "a.png", "image/png", png(4 * MiB)))
        with socket.create_connection(("127.0.0.1", server.server_port)) as sock:
            sock.sendall(
                b"POST /upload HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: multipart/form-data; boundary=" + BOUNDARY.encode() + b"\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            )
            sock.sendall(body[: 2 * MiB])
        assert finished.wait(20), "the server never finished the request"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
    assert names(bucket) == []


# -- Datastore records ------------------------------------------------------------------------


def test_only_accepted_uploads_reach_the_datastore(
    bucket: storage.Bucket, ndb_context: t.Any
) -> None:
    from google.cloud import ndb

    # Not "Attachment": ndb maps a kind to the last model class of that name, and the
    # sample app's Attachment must stay the one its own tests load.
    class UploadRecord(ndb.Model):  # type: ignore[misc]
        bucket = ndb.StringProperty()
        name = ndb.StringProperty()
        size = ndb.IntegerProperty()
        content_type = ndb.StringProperty()
        checksum_algorithm = ndb.StringProperty()
        checksum = ndb.StringProperty()
        original_filename = ndb.StringProperty()
        generation = ndb.IntegerProperty()
        field = ndb.StringProperty()

    app, store = make_app(bucket, max_file_size=500 * KiB)

    @app.post("/attach")
    def attach() -> t.Any:
        for record in store.receive():
            UploadRecord(**record.to_dict()).put()
        return "stored"

    assert post(app, multipart(("f", "a.png", "image/png", png(MiB))), "/attach").status_code == 413
    cut = Body(multipart(("f", "a.png", "image/png", png(400 * KiB))), cut_at=300 * KiB)
    assert post(app, cut, "/attach").status_code == 400
    assert UploadRecord.query().count() == 0
    assert names(bucket) == []
    assert post(app, multipart(("f", "a.png", "image/png", png(400 * KiB))), "/attach").data == (
        b"stored"
    )
    (entity,) = UploadRecord.query().fetch()
    assert names(bucket) == [entity.name]
    assert entity.size == 400 * KiB
