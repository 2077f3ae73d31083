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

import atexit
import contextlib
import functools
import json
import threading
import time
import typing as t

from .buffer import ChunkBuffer, give_back, take_buffer

if t.TYPE_CHECKING:
    import requests

#: Statuses after which the same request may be sent again.
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
TIMEOUT = (10.0, 120.0)

_local = threading.local()


def _session() -> requests.Session:
    # One connection pool per thread: requests' Session is not meant to be shared.
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        import requests

        session = requests.Session()
        _local.session = session
    return session


class ResumableUploadError(Exception):
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


def query_session(url: str, total: int | None = None) -> requests.Response | None:
    """Ask a session how far it got (``None`` if it cannot be reached).

    With ``total``, a session that holds that many bytes completes the object and answers
    with it, as after a final request whose answer was lost.
    """
    import requests

    span = f"bytes */{total}" if total is not None else "bytes */*"
    try:
        return _session().put(url, headers={"Content-Range": span}, timeout=TIMEOUT)
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


#: Seconds an idle connection of a :class:`StreamedPut` is kept for the next one (front
#: ends close idle connections after a while; a reused one that turns out closed costs
#: the upload a second send from its buffer).
IDLE_SECONDS = 30.0


class StreamedPut:
    """One upload request whose body is sent while it is still arriving.

    The request's length is declared up front (``length`` bytes, ``Content-Range: span``);
    :meth:`send` passes bytes on as they come, :meth:`response` reads the answer once all
    were sent, and :meth:`abort` drops the connection instead (a request cut short never
    completes an object). Plain ``http.client``: ``requests`` cannot send a body piece by
    piece with a declared length. After an answer the connection is kept for a later
    request to the same host, so a TLS handshake is not paid per upload.
    """

    def __init__(self, url: str, span: str, length: int) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self._key = (parts.scheme, parts.hostname or "", parts.port)
        connection = _take_idle(self._key) or _connect(*self._key)
        self.length = length
        self.sent = 0
        self._connection = connection
        try:
            connection.putrequest(
                "PUT", f"{parts.path}?{parts.query}" if parts.query else parts.path
            )
            connection.putheader("Content-Range", span)
            connection.putheader("Content-Length", str(length))
            connection.endheaders()
        except BaseException:
            connection.close()
            raise

    def send(self, data: memoryview) -> None:
        """Send the next bytes of the body (never more than the declared length)."""
        if self.sent + len(data) > self.length:
            raise ValueError(f"This request's body is {self.length} bytes; no more fit.")
        self._connection.send(data)
        self.sent += len(data)

    def response(self) -> tuple[int, bytes]:
        """The status and body of the answer (the whole body must have been sent)."""
        connection = self._connection
        try:
            answer = connection.getresponse()
            body = answer.read()
        except BaseException:
            connection.close()
            raise
        if answer.will_close:
            connection.close()
        else:
            _keep_idle(self._key, connection)
        return answer.status, body

    def abort(self) -> None:
        """Drop the request unfinished (never raises)."""
        with contextlib.suppress(Exception):
            self._connection.close()


_Key = tuple[str, str, "int | None"]

#: Idle connections kept per host (a busy app runs uploads in several threads at once).
MAX_IDLE = 4
_idle_lock = threading.Lock()
_idle: dict[_Key, list[tuple[t.Any, float]]] = {}


def _take_idle(key: _Key) -> t.Any:
    stale = []
    found = None
    with _idle_lock:
        kept = _idle.get(key, [])
        while kept and found is None:
            connection, since = kept.pop()
            if time.monotonic() - since > IDLE_SECONDS:
                stale.append(connection)
            else:
                found = connection
    for connection in stale:
        connection.close()
    return found


def _keep_idle(key: _Key, connection: t.Any) -> None:
    with _idle_lock:
        kept = _idle.setdefault(key, [])
        if len(kept) < MAX_IDLE:
            kept.append((connection, time.monotonic()))
            return
    connection.close()


def close_idle_connections() -> None:
    """Close the connections kept for later uploads (done at exit too)."""
    with _idle_lock:
        kept = [connection for pool in _idle.values() for connection, _ in pool]
        _idle.clear()
    for connection in kept:
        connection.close()


atexit.register(close_idle_connections)


def _connect(scheme: str, host: str, port: int | None) -> t.Any:
    import http.client

    if scheme == "https":
        return http.client.HTTPSConnection(host, port, timeout=TIMEOUT[1], context=_tls_context())
    return http.client.HTTPConnection(host, port, timeout=TIMEOUT[1])


@functools.cache
def _tls_context() -> t.Any:
    # Once per process: building a context reads the whole CA bundle.
    import ssl

    # The CA bundle requests uses, so both kinds of upload request trust the same roots.
    try:
        import certifi
    except ImportError:  # pragma: no cover - requests depends on certifi
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())
