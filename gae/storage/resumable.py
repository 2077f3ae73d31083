"""A resumable upload fed piece by piece, holding one chunk of memory.

Part of :mod:`gae.storage`. The session is opened with the library's public
``Blob.create_resumable_upload_session`` (metadata, content type and ``ifGenerationMatch=0``
travel with it); the chunks then go to the session URI, which is itself the credential for
the upload (Cloud Storage documents that requests to it need no other authorization).

Why not ``blob.open("wb")``: its writer copies each chunk twice on the way out (a sliding
``BytesIO`` and a ``bytes`` slice of it), so an upload peaks at about three chunks. Here
one :class:`~gae.storage.buffer.ChunkBuffer` of ``chunk_size`` is filled and handed to the
socket as a ``memoryview``, so a chunk costs its size in memory whatever the file size,
and larger chunks (fewer round trips) stay affordable.

Protocol (https://cloud.google.com/storage/docs/performing-resumable-uploads): each full
chunk is ``PUT`` with ``Content-Range: bytes a-b/*`` and answered ``308`` with the
persisted range; the last with ``bytes a-b/total`` (or ``bytes */total``) and answered
``200``/``201`` with the object. Bytes the service did not persist are sent again; a
``5xx``, ``429`` or broken connection is retried after asking the session how far it got.
"""

from __future__ import annotations

import contextlib
import json
import time
import typing as t

from gae.errors import GaeError
from gae.lazy_client import LazyClient

from .buffer import ChunkBuffer, give_back, take_buffer

if t.TYPE_CHECKING:
    from collections.abc import Callable

    import requests

#: Statuses after which the same request may be sent again.
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
TIMEOUT = (10.0, 120.0)


def _new_session() -> requests.Session:
    import requests

    return requests.Session()


#: The one HTTP session the app's uploads use for their session URIs (every thread's:
#: its connection pool is thread-safe, and nothing else is kept on it). Everything that
#: needs the app's credentials goes through the client library's own transport instead.
_http = LazyClient(_new_session)


def _session() -> requests.Session:
    return t.cast("requests.Session", _http.get())


def set_session_factory(factory: Callable[[], requests.Session] | None) -> None:
    """Build the session for session URIs with ``factory`` (``None``: a plain one)."""
    _http.set_factory(factory)


class ResumableUploadError(GaeError):
    """The session refused a request (``status`` is the HTTP status, ``None`` if none)."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = status


class ResumableUpload:
    """Write the object's bytes in order with :meth:`write`, then :meth:`finish`.

    ``first`` (a buffer of ``chunk_size`` holding the first bytes) becomes the session's
    buffer as it is, not copied. The buffer is filled in place, and given back (see
    :func:`~gae.storage.buffer.give_back`) once the upload is finished or cancelled.
    """

    def __init__(self, url: str, chunk_size: int, first: ChunkBuffer | None = None) -> None:
        self.url = url
        self._held: ChunkBuffer | None = first if first is not None else take_buffer(chunk_size)
        #: Bytes the service has persisted (the offset of the buffer's first byte).
        self.persisted = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes; a full chunk goes out as soon as more data follows it."""
        view = memoryview(data)
        buffer = self._buffer
        while view:
            # A full buffer is only sent once more data follows, so the last chunk of
            # the file always travels as the final request (one round trip fewer).
            if buffer.full:
                self._send(final=False)
            view = view[buffer.append(view) :]

    def finish(self) -> dict[str, t.Any]:
        """Send the rest and finalize; the object resource Cloud Storage returns."""
        while True:
            result = self._send(final=True)
            if result is not None:
                return result

    def cancel(self) -> None:
        """Abandon the session so no object appears (``DELETE`` on its URI; never raises)."""
        self._release()
        cancel_session(self.url)

    @property
    def _buffer(self) -> ChunkBuffer:
        if self._held is None:
            raise ValueError("This upload is finished or cancelled; it takes no more data.")
        return self._held

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            give_back(held)

    def _send(self, *, final: bool) -> dict[str, t.Any] | None:
        """One ``PUT`` of the buffered bytes (retried); the object once the upload is done."""
        import requests

        response: requests.Response | None = None
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            last = attempt == len(RETRY_DELAYS)
            if delay:
                time.sleep(delay)
                response = self._query()
                if response is not None and response.status_code in {200, 201}:
                    break
            start = self.persisted
            filled = len(self._buffer)
            end = start + filled
            if final:
                span = f"bytes {start}-{end - 1}/{end}" if filled else f"bytes */{end}"
            else:
                span = f"bytes {start}-{end - 1}/*"
            # The memoryview goes to the socket as it is (urllib3 hands buffer objects to
            # sendall); it is released before the buffer is written to again.
            with self._buffer.view() as body:
                try:
                    response = _session().put(
                        self.url,
                        data=body if filled else b"",
                        headers={"Content-Range": span, "Content-Length": str(filled)},
                        timeout=TIMEOUT,
                    )
                except requests.RequestException:
                    if last:
                        raise
                    continue
            if response.status_code not in RETRYABLE or last:
                break
        assert response is not None
        if response.status_code in {200, 201}:
            self.persisted += len(self._buffer)
            self._release()
            return t.cast(dict[str, t.Any], json.loads(response.content or b"{}"))
        if response.status_code != 308:
            raise _refused(response)
        self._advance(_persisted(response))
        return None

    def _advance(self, persisted: int) -> None:
        """The service holds ``persisted`` bytes: drop them from the buffer, keep the rest."""
        start, end = self.persisted, self.persisted + len(self._buffer)
        if not start <= persisted <= end:
            raise ResumableUploadError(
                f"The upload session reported {persisted} bytes persisted, outside the "
                f"{start}-{end} sent so far.",
                None,
            )
        # Usually the whole chunk. Rarely the service keeps only part of it: the rest
        # moves to the front, to go again with the next chunk.
        self._buffer.discard(persisted - start)
        self.persisted = persisted

    def _query(self) -> requests.Response | None:
        """Ask the session how far it got (``bytes */*``); ``None`` if it cannot be reached."""
        response = query_session(self.url)
        if response is not None and response.status_code == 308:
            self._advance(_persisted(response))
        return response


def query_session(url: str) -> requests.Response | None:
    """Ask a session how far it got (``None`` if it cannot be reached)."""
    import requests

    try:
        return _session().put(url, headers={"Content-Range": "bytes */*"}, timeout=TIMEOUT)
    except requests.RequestException:
        return None


def cancel_session(url: str) -> None:
    """Abandon a session, so no object appears (``DELETE`` on its URI; never raises)."""
    # Best effort: an abandoned session holds no object and expires within a week.
    with contextlib.suppress(Exception):
        _session().delete(url, timeout=TIMEOUT)


def _persisted(response: requests.Response) -> int:
    # "Range: bytes=0-N" means N + 1 bytes are stored; no header means none.
    header = response.headers.get("Range", "")
    _, _, last = header.rpartition("-")
    return int(last) + 1 if last.isdigit() else 0


def _refused(response: requests.Response) -> ResumableUploadError:
    return ResumableUploadError(
        f"Cloud Storage refused an upload chunk: HTTP {response.status_code} "
        f"{response.text[:300]!r}.",
        response.status_code,
    )
