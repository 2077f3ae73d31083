"""The resumable-upload protocol against a session that misbehaves as Cloud Storage may.

Cloud Storage may persist only part of a chunk, or answer 503; neither emulator ever does.
``FlakySession`` is a loopback server that follows the protocol (308 with the persisted
``Range``, ``bytes */*`` status queries, 200 with the object at the end) and does both,
so the resend and retry paths of ``ResumableUpload`` run for real.
"""

from __future__ import annotations

import base64
import os
import threading
import typing as t
from collections.abc import Iterator

import google_crc32c
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from gae.storage import resumable as storage_resumable
from gae.storage.resumable import ResumableUpload, ResumableUploadError

KiB = 1024
CHUNK = 256 * KiB


class FlakySession:
    """One resumable session: keeps short of each chunk once, fails some requests."""

    def __init__(self, *, short_by: int = 0, fail_first: int = 0, refuse: int = 0) -> None:
        self.data = bytearray()
        self.short_by = short_by  # bytes of the first chunk not persisted
        self.fail_first = fail_first  # how many chunk PUTs answer 503 before working
        self.refuse = refuse  # answer every chunk PUT with this status
        self.requests: list[str] = []
        self.deleted = False
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/upload?upload_id=x"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.server.server_close()

    def _incomplete(self) -> Response:
        response = Response(status=308)
        if self.data:
            response.headers["Range"] = f"bytes=0-{len(self.data) - 1}"
        return response

    @Request.application  # type: ignore[arg-type]
    def app(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.deleted = True
            return Response(status=499)
        span = request.headers["Content-Range"]
        self.requests.append(span)
        body = request.get_data()
        if span == "bytes */*":
            return self._incomplete()
        if self.refuse:
            return Response("no such upload", status=self.refuse)
        if self.fail_first:
            self.fail_first -= 1
            return Response(status=503)
        _, _, rest = span.partition(" ")
        first_last, _, total = rest.partition("/")
        if first_last != "*":
            start = int(first_last.partition("-")[0])
            assert start == len(self.data), (start, len(self.data))
            keep = len(body)
            if self.short_by and total == "*":
                keep -= self.short_by
                self.short_by = 0
            self.data += body[:keep]
        if total != "*" and len(self.data) == int(total):
            crc = base64.b64encode(google_crc32c.Checksum(bytes(self.data)).digest()).decode()
            return Response(
                f'{{"size": "{len(self.data)}", "crc32c": "{crc}", "generation": "7"}}',
                status=200,
                content_type="application/json",
            )
        return self._incomplete()


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_resumable, "RETRY_DELAYS", (0.01, 0.01, 0.01, 0.01))


@pytest.fixture
def session_factory() -> Iterator[t.Callable[..., FlakySession]]:
    made: list[FlakySession] = []

    def make(**options: int) -> FlakySession:
        session = FlakySession(**options)
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


def upload(url: str, data: bytes) -> dict[str, t.Any]:
    upload = ResumableUpload(url, CHUNK)
    for offset in range(0, len(data), 64 * KiB):
        upload.write(data[offset : offset + 64 * KiB])
    return upload.finish()


def test_chunks_go_out_full_and_the_last_one_finalizes(
    session_factory: t.Callable[..., FlakySession],
) -> None:
    session = session_factory()
    data = os.urandom(3 * CHUNK + 1000)
    result = upload(session.url, data)
    assert bytes(session.data) == data
    assert result["size"] == str(len(data))
    assert session.requests == [
        f"bytes 0-{CHUNK - 1}/*",
        f"bytes {CHUNK}-{2 * CHUNK - 1}/*",
        f"bytes {2 * CHUNK}-{3 * CHUNK - 1}/*",
        f"bytes {3 * CHUNK}-{len(data) - 1}/{len(data)}",
    ]


def test_an_exact_multiple_of_the_chunk_ends_with_a_full_final_chunk(
    session_factory: t.Callable[..., FlakySession],
) -> None:
    session = session_factory()
    data = os.urandom(2 * CHUNK)
    upload(session.url, data)
    assert session.requests[-1] == f"bytes {CHUNK}-{2 * CHUNK - 1}/{2 * CHUNK}"
    assert bytes(session.data) == data


def test_bytes_the_service_did_not_persist_are_sent_again(
    session_factory: t.Callable[..., FlakySession],
) -> None:
    session = session_factory(short_by=1000)
    data = os.urandom(2 * CHUNK + 5)
    upload(session.url, data)
    assert bytes(session.data) == data
    assert session.requests[1].startswith(f"bytes {CHUNK - 1000}-")


def test_a_503_is_retried_from_where_the_service_got_to(
    session_factory: t.Callable[..., FlakySession], quick_retries: None
) -> None:
    session = session_factory(fail_first=2)
    data = os.urandom(CHUNK + 10)
    upload(session.url, data)
    assert bytes(session.data) == data
    assert session.requests.count("bytes */*") == 2


def test_a_refused_chunk_raises_with_the_status_and_cancel_deletes_the_session(
    session_factory: t.Callable[..., FlakySession],
) -> None:
    session = session_factory(refuse=404)
    upload = ResumableUpload(session.url, CHUNK)
    with pytest.raises(ResumableUploadError) as caught:
        upload.write(os.urandom(CHUNK + 1))
    assert caught.value.status == 404
    assert "no such upload" in str(caught.value)
    upload.cancel()
    assert session.deleted
