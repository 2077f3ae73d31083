"""A file last in the form goes up in one request sent while the browser's is still read.

Its size is guessed from the request's Content-Length (gae.storage.predict); the request
holds its last byte back until the file has ended at exactly that size, and a wrong guess
starts over from the buffer. Against gcp-storage-emulator; ``StreamedPut`` is watched (and
in two tests made to fail, as a network would) to see which way each upload went.
"""

from __future__ import annotations

import typing as t

import pytest
from google.cloud import storage

from gae.storage import MiB, StoredFile
from gae.storage import resumable as storage_resumable
from gae.storage.predict import predict_part_size

from .test_uploads import BOUNDARY, Body, make_app, multipart, names, png, post

CHUNK = 8 * MiB


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Content-Range of every request sent while its file arrives."""
    seen: list[str] = []
    original = storage_resumable.StreamedPut.__init__

    def watch(self: storage_resumable.StreamedPut, url: str, span: str, length: int) -> None:
        seen.append(span)
        original(self, url, span, length)

    monkeypatch.setattr(storage_resumable.StreamedPut, "__init__", watch)
    return seen


def stored(bucket: storage.Bucket, response: t.Any, data: bytes) -> StoredFile:
    assert response.status_code == 200, response.data
    record = StoredFile.from_dict(response.get_json()["files"][-1])
    blob = bucket.get_blob(record.name)
    assert blob.download_as_bytes() == data
    assert record.size == blob.size == len(data)
    reported = blob.crc32c if record.checksum_algorithm == "crc32c" else blob.md5_hash
    assert record.checksum == reported
    return record


def upload_once(bucket: storage.Bucket, spans: list[str]) -> None:
    """A 3 MiB file, guessed once, ends up as exactly one object with the right bytes."""
    app, _ = make_app(bucket, chunk_size=CHUNK, max_file_size=16 * MiB)
    data = png(3 * MiB)
    record = stored(bucket, post(app, multipart(("f", "a.png", "image/png", data))), data)
    assert len(spans) == 1
    assert names(bucket) == [record.name]


@pytest.mark.parametrize("checksum", ["crc32c", "md5"])
def test_a_file_last_in_the_form_goes_up_in_one_request_while_it_arrives(
    bucket: storage.Bucket, spans: list[str], checksum: str
) -> None:
    app, _ = make_app(bucket, chunk_size=CHUNK, max_file_size=16 * MiB, checksum=checksum)
    data = png(3 * MiB + 17)
    body = multipart(("title", None, None, b"Holiday"), ("f", "big.png", "image/png", data))
    record = stored(bucket, post(app, body), data)
    assert spans == [f"bytes 0-{len(data) - 1}/{len(data)}"]
    assert names(bucket) == [record.name]
    assert bucket.get_blob(record.name).metadata == {"original-filename": "big.png"}


def test_uploads_one_after_another_share_a_connection(
    fake_bucket: storage.Bucket, spans: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # fake-gcs-server keeps connections open (gcp-storage-emulator answers HTTP/1.0).
    bucket = fake_bucket
    opened: list[tuple[str, str, int | None]] = []
    connect = storage_resumable._connect

    def watch(scheme: str, host: str, port: int | None) -> t.Any:
        opened.append((scheme, host, port))
        return connect(scheme, host, port)

    monkeypatch.setattr(storage_resumable, "_connect", watch)
    storage_resumable.close_idle_connections()
    app, _ = make_app(bucket, chunk_size=CHUNK, max_file_size=16 * MiB)
    for size in (3 * MiB, 4 * MiB):
        data = png(size)
        stored(bucket, post(app, multipart(("f", "a.png", "image/png", data))), data)
    assert len(spans) == 2
    assert len(opened) == 1
    # An idle connection is not trusted for long: the next upload opens a new one.
    monkeypatch.setattr(storage_resumable, "IDLE_SECONDS", 0.0)
    data = png(3 * MiB)
    stored(bucket, post(app, multipart(("f", "a.png", "image/png", data))), data)
    assert len(opened) == 2
    storage_resumable.close_idle_connections()


def test_a_file_followed_by_another_part_is_guessed_too_long_and_sent_again(
    bucket: storage.Bucket, spans: list[str]
) -> None:
    app, _ = make_app(bucket, chunk_size=CHUNK, max_file_size=16 * MiB)
    first, second = png(3 * MiB), png(3 * MiB + 5)
    body = multipart(("a", "a.png", "image/png", first), ("b", "b.png", "image/png", second))
    response = post(app, body)
    assert response.status_code == 200, response.data
    records = [StoredFile.from_dict(f) for f in response.get_json()["files"]]
    assert [bucket.get_blob(r.name).download_as_bytes() for r in records] == [first, second]
    # The first guess took the second file for part of the first; the second was right.
    assert len(spans) == 2 and spans[1] == f"bytes 0-{len(second) - 1}/{len(second)}"
    assert int(spans[0].rpartition("/")[2]) > len(first)
    # The abandoned request stored nothing.
    assert names(bucket) == sorted(r.name for r in records)


def test_a_body_without_the_final_line_break_is_guessed_too_short_and_sent_again(
    bucket: storage.Bucket, spans: list[str]
) -> None:
    app, _ = make_app(bucket, chunk_size=CHUNK, max_file_size=16 * MiB)
    data = png(3 * MiB)
    body = multipart(("f", "a.png", "image/png", data))
    assert body.endswith(b"--\r\n")
    record = stored(bucket, post(app, body[:-2]), data)
    assert spans == [f"bytes 0-{len(data) - 3}/{len(data) - 2}"]
    assert names(bucket) == [record.name]


def test_files_that_fit_one_ordinary_request_or_not_the_buffer_are_not_guessed(
    bucket: storage.Bucket, spans: list[str]
) -> None:
    app, _ = make_app(bucket, chunk_size=4 * MiB, max_file_size=16 * MiB)
    small, large = png(MiB), png(5 * MiB)
    stored(bucket, post(app, multipart(("f", "a.png", "image/png", small))), small)
    stored(bucket, post(app, multipart(("f", "a.png", "image/png", large))), large)
    assert spans == []


def test_a_client_gone_while_the_request_is_open_leaves_nothing(
    bucket: storage.Bucket, spans: list[str]
) -> None:
    app, _ = make_app(bucket, chunk_size=CHUNK, max_file_size=16 * MiB)
    body = Body(multipart(("f", "a.png", "image/png", png(4 * MiB))), cut_at=3 * MiB)
    response = post(app, body)
    assert response.status_code == 400
    assert len(spans) == 1
    assert names(bucket) == []


def test_a_request_that_fails_on_the_way_falls_back_to_the_buffer(
    bucket: storage.Bucket, spans: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: storage_resumable.StreamedPut, data: memoryview) -> None:
        raise ConnectionResetError("the connection to Cloud Storage broke")

    monkeypatch.setattr(storage_resumable.StreamedPut, "send", broken)
    upload_once(bucket, spans)


def test_an_answer_lost_after_the_last_byte_keeps_the_stored_object(
    bucket: storage.Bucket, spans: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = storage_resumable.StreamedPut.response

    def lost(self: storage_resumable.StreamedPut) -> tuple[int, bytes]:
        original(self)
        raise ConnectionResetError("the answer never came")

    monkeypatch.setattr(storage_resumable.StreamedPut, "response", lost)
    # Not sent twice: the object the lost answer was about is the record's.
    upload_once(bucket, spans)


# -- the guess itself --------------------------------------------------------------------


def _guess(body: bytes, data_end: int, written: int, read_to: int) -> int | None:
    block = body[:read_to]
    return predict_part_size(
        written=written,
        data=body[data_end - 100 : data_end],
        block=block,
        bytes_read=read_to,
        content_length=len(body),
        boundary=BOUNDARY.encode(),
    )


def test_the_guess_places_the_data_in_the_body() -> None:
    data = png(5000)
    body = multipart(("f", "a.png", "image/png", data))
    start = body.index(data)
    # werkzeug hands on data up to where a boundary could begin: at most a delimiter
    # ("\r\n--" and the boundary) short of what it has read.
    for kept in (0, 1, 10, len(BOUNDARY) + 4):
        end = start + 3000
        assert _guess(body, end, 3000, end + kept) == len(data)


def test_no_guess_when_the_data_repeats_or_the_body_says_too_little() -> None:
    data = bytes(5000)  # zeros: the data's last bytes match at every offset
    body = multipart(("f", "a.bin", None, data))
    end = body.index(data) + 3000
    assert _guess(body, end, 3000, end + 10) is None
    data = png(5000)
    body = multipart(("f", "a.png", "image/png", data))
    end = body.index(data) + 3000
    common = {"written": 3000, "data": body[end - 100 : end], "block": body[: end + 10]}
    assert (
        predict_part_size(**common, bytes_read=end + 10, content_length=None, boundary=b"x") is None
    )
    assert (
        predict_part_size(**common, bytes_read=end + 10, content_length=len(body), boundary=None)
        is None
    )
