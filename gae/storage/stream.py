"""One file part on its way from the request body to a Cloud Storage object.

Part of :mod:`gae.storage`. werkzeug writes each file part into an :class:`UploadStream`
64 KiB at a time. The stream enforces the per-file limit as bytes arrive, checks the first
bytes against the declared type before anything is stored, hashes the data, and sends it
on: a file that ends within the first chunk goes up in one request, a longer one through
a resumable upload (``blob.open("wb")``) one chunk at a time. Objects are created with
``if_generation_match=0``, so an existing object is never replaced. Once stored, the size
and checksum Cloud Storage reports must match what the app sent.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import typing as t

from .buffer import ChunkBuffer, give_back, take_buffer
from .policy import (
    BadUpload,
    StorageUnavailable,
    StoredFile,
    UploadConflict,
    UploadRejected,
    sanitize_filename,
)
from .resumable import cancel_session, query_session
from .sniff import SNIFF_BYTES

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from .receiver import Receiver
    from .resumable import ResumableUpload, StreamedPut

logger = logging.getLogger("gae.storage")

#: Metadata key under which the sanitised original filename is stored on the object.
FILENAME_METADATA = "original-filename"

#: Files up to this size go up in one request; larger ones through a resumable session.
ONE_REQUEST_LIMIT = 2 * 1024 * 1024


class UploadStream:
    """One file part on its way to Cloud Storage (what werkzeug writes the part into).

    States: ``open`` while bytes arrive, then ``stored`` (see :meth:`record`), ``skipped``
    (an empty file input: nothing was chosen), or ``aborted``.
    """

    def __init__(self, receiver: Receiver, filename: str | None, declared: str) -> None:
        self.receiver = receiver
        self.filename = filename
        self.declared = declared
        self.content_type = declared
        self.field: str | None = None
        self.size = 0
        self.state = "open"
        self.generation: int | None = None
        #: The first chunk, until the file proves longer (then the session's buffer).
        self._buffer: ChunkBuffer | None = None
        self._checked = False
        self._session: ResumableUpload | None = None
        #: The file sent in one request while it arrives, its size guessed (or None).
        self._guess: GuessedUpload | None = None
        self._guessed = False
        self._blob: t.Any = None
        self._hash: t.Any = _new_hash(receiver.policy.checksum)

    # -- what werkzeug calls ---------------------------------------------------------------

    def write(self, data: bytes) -> int:
        if self.state != "open":
            raise ValueError(f"This upload is {self.state}; it accepts no more data.")
        if not data:
            return 0
        receiver = self.receiver
        if self.size == 0 and not self.filename:
            # A part without a filename (an empty file input) only counts as a file, and
            # is only checked, once it has content.
            receiver.count_file(self.filename)
            receiver.policy.check_declared(self.filename, self.declared)
        self.size += len(data)
        if self.size > receiver.policy.max_file_size:
            raise receiver.file_too_large(self.filename)
        self._hash.update(data)
        if self._session is not None:
            with storage_errors(self):
                self._session.write(data)
            return len(data)
        buffer = self._buffer
        if buffer is None:
            buffer = self._buffer = take_buffer(receiver.chunk_size)
        taken = buffer.append(data)
        if not self._checked and len(buffer) >= SNIFF_BYTES:
            self._check()
        guess = self._guess
        if guess is not None:
            if self.size > guess.size or not guess.pump(buffer):
                self._drop_guess()
        elif self._checked and not self._guessed:
            self._guessed = True
            self._start_guess(data)
        if taken < len(data):
            # More than one chunk: from here on the bytes stream to a resumable upload.
            session = self._start_session()
            with storage_errors(self):
                session.write(memoryview(data)[taken:])
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        # werkzeug rewinds a file part once it has written all of it: for this stream that
        # is the end of the file, so the upload is finished here, while the rest of the
        # form is still being read. (Parts werkzeug never rewinds are caught by
        # Receiver.complete.)
        if offset == 0 and whence == 0 and self.state == "open":
            self.finish()
        return 0

    def tell(self) -> int:
        return self.size

    def read(self, size: int = -1) -> bytes:
        raise OSError(
            f"The file {sanitize_filename(self.filename)!r} was streamed to Cloud Storage "
            f"({self.where()}) and is not kept by the app; use the StoredFile returned by "
            "storage.receive() instead of reading request.files."
        )

    readline = read

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return self.state == "open"

    def seekable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:
        # Request.close() closes every uploaded file; the object itself stays.
        pass

    @property
    def closed(self) -> bool:
        return self.state != "open"

    # -- the upload ------------------------------------------------------------------------

    def _check(self) -> None:
        head = self._buffer.head(SNIFF_BYTES) if self._buffer is not None else b""
        self.content_type = self.receiver.policy.check_content(self.filename, self.declared, head)
        self._checked = True

    def _new_blob(self) -> t.Any:
        receiver = self.receiver
        blob = receiver.bucket.blob(receiver.object_namer(receiver.policy))
        blob.metadata = {FILENAME_METADATA: sanitize_filename(self.filename)}
        self._blob = blob
        return blob

    def _new_session(self, size: int | None) -> str:
        """A resumable upload session for a new object; its URI."""
        blob = self._new_blob()
        with storage_errors(self):
            # if_generation_match=0: create only, never replace an existing object.
            return t.cast(
                str,
                blob.create_resumable_upload_session(
                    content_type=self.content_type,
                    size=size,
                    if_generation_match=0,
                    checksum=None,
                    **self._retry(),
                ),
            )

    def _start_session(self, *, size: int | None = None) -> ResumableUpload:
        from .resumable import ResumableUpload

        url = self._new_session(size)
        # The buffered first chunk becomes the session's buffer: nothing is copied.
        session = ResumableUpload(url, self.receiver.chunk_size, self._buffer)
        self._session = session
        self._buffer = None
        return session

    def _start_guess(self, data: bytes) -> None:
        """Start sending the file in one request now, if its size can be guessed."""
        from .predict import predict_part_size
        from .resumable import StreamedPut

        receiver = self.receiver
        size = predict_part_size(
            written=self.size,
            data=data,
            block=receiver.last_block,
            bytes_read=receiver.bytes_read,
            content_length=receiver.content_length,
            boundary=receiver.boundary,
        )
        # Small files go up in one ordinary request; a file over a chunk (or over the
        # policy's limit) could not be sent again from the buffer if the guess were wrong.
        if size is None or not max(ONE_REQUEST_LIMIT, self.size) < size <= receiver.chunk_size:
            return
        if size > receiver.policy.max_file_size:
            return
        url = self._new_session(size)
        try:
            put = StreamedPut(url, f"bytes 0-{size - 1}/{size}", size)
        except Exception:
            logger.debug("Could not open the upload request for %s", self.where(), exc_info=True)
            cancel_session(url)
            return
        self._guess = GuessedUpload(url, put, size)
        assert self._buffer is not None
        if not self._guess.pump(self._buffer):
            self._drop_guess()

    def _drop_guess(self) -> None:
        # The guess was wrong (or the request failed): nothing was stored, as its last
        # byte was never sent. The file goes up from the buffer instead, under a new name.
        guess, self._guess = self._guess, None
        if guess is not None:
            guess.abandon()

    def _finish_guess(self) -> dict[str, t.Any] | None:
        """The object, if the guessed request stored the file; else ``None``."""
        guess = self._guess
        assert guess is not None and self._buffer is not None
        stored = None
        if self.size == guess.size:
            stored = guess.complete(self._buffer)
            if stored is None:
                # Every byte went out but the answer did not come back: the object may
                # exist all the same (then it is the one to keep, if its checksum is right).
                stored = self._existing_object()
        if stored is None:
            self._drop_guess()
        else:
            self._guess = None
            self._release_buffer()
        return stored

    def _existing_object(self) -> dict[str, t.Any] | None:
        try:
            blob = self._blob.bucket.get_blob(self._blob.name, **self._retry())
        except Exception:
            logger.debug("Could not look for %s", self.where(), exc_info=True)
            return None
        if blob is None:
            return None
        self._blob = blob
        return _reported_by(blob)

    def finish(self) -> None:
        """Send what is left, check Cloud Storage's account of it, make the record."""
        policy = self.receiver.policy
        if self._guess is not None:
            stored = self._finish_guess()
            if stored is not None:
                self._stored(stored)
                return
        if self._session is None:
            if self.size == 0:
                if not self.filename:
                    self.state = "skipped"
                    return
                if not policy.allow_empty:
                    raise BadUpload(
                        f"The file {sanitize_filename(self.filename)!r} is empty; choose "
                        "a file with content."
                    )
            if not self._checked:
                self._check()
            if self.size > ONE_REQUEST_LIMIT:
                # One request would copy the file twice more (bytes, multipart body);
                # a session sends it from the buffer as it is.
                self._start_session(size=self.size)
        with storage_errors(self):
            if self._session is not None:
                stored = self._session.finish()
                self._session = None
            else:
                stored = _reported_by(self._upload_in_one_request())
        self._stored(stored)

    def _stored(self, stored: t.Mapping[str, t.Any]) -> None:
        self.state = "stored"
        self.generation = int(stored["generation"]) if stored.get("generation") else None
        self._verify(stored)

    def _upload_in_one_request(self) -> t.Any:
        from google.api_core.exceptions import PreconditionFailed

        blob = self._new_blob()
        data = self._buffer.head(self.size) if self._buffer is not None else b""
        self._release_buffer()
        try:
            blob.upload_from_string(
                data,
                content_type=self.content_type,
                if_generation_match=0,
                checksum=None,
                **self._retry(),
            )
        except PreconditionFailed:
            # The library retries a request that timed out; if the first attempt did store
            # the object, the retry finds it "already there". Ours if size and checksum match.
            existing = blob.bucket.get_blob(blob.name, **self._retry())
            if existing is None or not self._same_content(existing.size, self._reported(existing)):
                raise
            blob = existing
            self._blob = existing
        return blob

    def _retry(self) -> dict[str, t.Any]:
        # The receiver's bounded retry; without one, the library's default (120 s).
        retry = self.receiver.retry
        return {} if retry is None else {"retry": retry}

    def _reported(self, blob: t.Any) -> str | None:
        value = blob.crc32c if self.receiver.policy.checksum == "crc32c" else blob.md5_hash
        return t.cast("str | None", value)

    def _same_content(self, size: t.Any, reported: str | None) -> bool:
        expected = base64.b64encode(self._hash.digest()).decode()
        return size is not None and int(size) == self.size and reported == expected

    def _verify(self, stored: t.Mapping[str, t.Any]) -> None:
        """Cloud Storage's size and checksum must be those of the bytes the app sent."""
        algorithm = self.receiver.policy.checksum
        reported = stored.get("crc32c" if algorithm == "crc32c" else "md5Hash")
        size = stored.get("size")
        if self._same_content(size, reported):
            return
        expected = base64.b64encode(self._hash.digest()).decode()
        self.abort()
        raise StorageUnavailable(
            f"Cloud Storage reported {size} bytes with {algorithm} {reported!r} for "
            f"{sanitize_filename(self.filename)!r}, but the app sent {self.size} bytes with "
            f"{algorithm} {expected!r}. The object was deleted; upload the file again."
        )

    def record(self) -> StoredFile:
        """The :class:`StoredFile` of a stored upload."""
        blob = self._blob
        policy = self.receiver.policy
        return StoredFile(
            bucket=blob.bucket.name,
            name=blob.name,
            size=self.size,
            content_type=self.content_type,
            checksum_algorithm=policy.checksum,
            checksum=base64.b64encode(self._hash.digest()).decode(),
            original_filename=sanitize_filename(self.filename),
            generation=self.generation,
            field=self.field,
        )

    def abort(self) -> None:
        """Cancel the resumable session or delete the stored object (never raises)."""
        state, self.state = self.state, "aborted"
        self._drop_guess()
        self._release_buffer()
        session, self._session = self._session, None
        try:
            if state == "stored":
                delete_quietly(self._blob, self.generation, self.receiver.retry)
            elif session is not None:
                # Cancels the resumable session (DELETE on its URI) so no object appears.
                session.cancel()
        except Exception:
            logger.warning("Could not clean up upload %s", self.where(), exc_info=True)

    def _release_buffer(self) -> None:
        buffer, self._buffer = self._buffer, None
        if buffer is not None:
            give_back(buffer)

    def where(self) -> str:
        blob = self._blob
        return f"gs://{blob.bucket.name}/{blob.name}" if blob is not None else "not started"


class GuessedUpload:
    """A whole file sent in one request while it arrives, its size guessed beforehand.

    The request's last byte is only sent by :meth:`complete`, once the file has ended at
    exactly the guessed size: until then the request can be dropped (:meth:`abandon`)
    without anything being stored.
    """

    def __init__(self, url: str, put: StreamedPut, size: int) -> None:
        self.url = url
        self.size = size
        self._put = put

    def pump(self, buffer: ChunkBuffer) -> bool:
        """Send what arrived, all but the last byte; False if the request failed."""
        put = self._put
        end = min(len(buffer), self.size - 1)
        if end <= put.sent:
            return True
        try:
            with buffer.view() as view, view[put.sent : end] as piece:
                put.send(piece)
        except Exception:
            logger.debug("The upload request to %s failed", self.url, exc_info=True)
            return False
        return True

    def complete(self, buffer: ChunkBuffer) -> dict[str, t.Any] | None:
        """Send the rest: the object if Cloud Storage stored it, else ``None``."""
        put = self._put
        try:
            with buffer.view() as view, view[put.sent : self.size] as piece:
                put.send(piece)
            status, body = put.response()
        except Exception:
            logger.debug("The upload request to %s failed", self.url, exc_info=True)
            # All bytes may have arrived before the answer was lost: ask the session.
            response = query_session(self.url, self.size)
            if response is None:
                return None
            status, body = response.status_code, response.content
        if status in {200, 201}:
            with contextlib.suppress(ValueError):
                return t.cast(dict[str, t.Any], json.loads(body))
            return {}  # stored, but unreadable: the size check fails and deletes it
        return None

    def abandon(self) -> None:
        """Drop the request and its session; no object appears (never raises)."""
        self._put.abort()
        cancel_session(self.url)


def _reported_by(blob: t.Any) -> dict[str, t.Any]:
    """What Cloud Storage says of a stored object, as an upload's final answer has it."""
    return {
        "size": blob.size,
        "crc32c": blob.crc32c,
        "md5Hash": blob.md5_hash,
        "generation": blob.generation,
    }


def _new_hash(algorithm: str) -> t.Any:
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    import google_crc32c  # type: ignore[import-untyped, unused-ignore]

    return google_crc32c.Checksum()  # type: ignore[no-untyped-call, unused-ignore]


def delete_quietly(blob: t.Any, generation: int | None, retry: t.Any = None) -> None:
    """Delete exactly the generation this app wrote; fine if it is already gone."""
    from google.api_core.exceptions import NotFound, PreconditionFailed

    options = {} if retry is None else {"retry": retry}
    with contextlib.suppress(NotFound, PreconditionFailed):
        blob.delete(if_generation_match=generation, **options)


def status_of(error: BaseException) -> int | None:
    """The HTTP status behind a google-cloud-storage error, if there is one."""
    code = getattr(error, "code", None)
    if isinstance(code, int):
        return code
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


@contextlib.contextmanager
def storage_errors(stream: UploadStream) -> Iterator[None]:
    """Turn Cloud Storage failures during an upload into clear HTTP errors."""
    try:
        yield
    except UploadRejected:
        raise
    except Exception as error:
        if not _is_storage_error(error):
            raise
        raise _storage_failure(stream, error) from error


def _storage_failure(stream: UploadStream, error: Exception) -> Exception:
    bucket = stream.receiver.bucket.name
    status = status_of(error)
    name = sanitize_filename(stream.filename)
    if status in {409, 412}:
        return UploadConflict(
            f"An object named {stream.where()!r} already exists, so {name!r} was not "
            "stored (nothing was overwritten). Send the upload again; it gets a new name."
        )
    if status == 404:
        return StorageUnavailable(
            f"The bucket {bucket!r} does not exist or the app cannot see it. Create it, "
            "or set GCS_BUCKET to an existing bucket."
        )
    if status in {401, 403}:
        return StorageUnavailable(
            f"The app may not write to bucket {bucket!r} (HTTP {status}). Grant its "
            "service account roles/storage.objectUser on the bucket."
        )
    return StorageUnavailable(
        f"Cloud Storage failed while storing {name!r} ({type(error).__name__}: "
        f"{error}). Nothing from this upload was kept; try again."
    )


def _is_storage_error(error: BaseException) -> bool:
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import TransportError
    from google.cloud.storage.exceptions import (  # type: ignore[import-untyped, unused-ignore]
        DataCorruption,
        InvalidResponse,
    )
    from requests import RequestException

    from .resumable import ResumableUploadError

    kinds = (
        GoogleAPIError,
        TransportError,
        InvalidResponse,
        DataCorruption,
        RequestException,
        ResumableUploadError,
    )
    return isinstance(error, kinds)
