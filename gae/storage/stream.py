"""One file part on its way from the request body to a Cloud Storage object.

Part of :mod:`gae.storage`. werkzeug writes each file part into an :class:`UploadStream`.
The stream enforces the per-file limit as bytes arrive, checks the first bytes against
the declared type before anything is stored, hashes the data and collects it in one
:class:`~gae.storage.buffer.ChunkBuffer`. A file that ends within that buffer goes up
in one request (up to :data:`ONE_REQUEST_LIMIT`) or one resumable-session request sent
from the buffer as it is; a longer one turns the buffer into a resumable session that
takes the rest a chunk at a time. Objects are created with ``if_generation_match=0``, so
an existing object is never replaced. Once stored, the size and checksum Cloud Storage
reports must match what the app sent.

A stream knows only its :class:`UploadTarget` (frozen for the
request) and, for a part without a filename, a callback that admits it once it has
content: nothing reaches back into the request's receiver.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import typing as t

from .buffer import ChunkBuffer, give_back, take_buffer
from .objects import (
    create_in_one_request,
    delete_quietly,
    filename_metadata,
    open_session,
    storage_errors,
)
from .policy import BadUpload, StorageUnavailable, StoredFile, UploadPolicy, sanitize_filename
from .sniff import SNIFF_BYTES

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from .resumable import ResumableUpload

logger = logging.getLogger("gae.storage")

#: Files up to this size go up in one request; larger ones through a resumable session.
#: (One request copies the file twice more on the way out: bytes, then the multipart body
#: the library builds; a session sends it from the buffer as it is.)
ONE_REQUEST_LIMIT = 2 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class UploadTarget:
    """Where one request's files go and under which rules, fixed when the request begins.

    ``retry`` is google-cloud-storage's retry policy for the upload's calls (``None``: the
    library's default, which retries for up to 120 s).
    """

    bucket: t.Any
    policy: UploadPolicy
    chunk_size: int
    object_namer: Callable[[UploadPolicy], str]
    retry: t.Any = None

    def new_blob(self, filename: str) -> t.Any:
        """A handle for a new object: a generated name, the original filename as metadata."""
        blob = self.bucket.blob(self.object_namer(self.policy))
        blob.metadata = filename_metadata(filename)
        return blob

    @property
    def retry_options(self) -> dict[str, t.Any]:
        """``retry=`` for the library's calls, when bounded."""
        return {} if self.retry is None else {"retry": self.retry}

    def new_hash(self) -> t.Any:
        """A running checksum of the policy's kind (what Cloud Storage reports back)."""
        if self.policy.checksum == "md5":
            return hashlib.md5(usedforsecurity=False)
        import google_crc32c  # type: ignore[import-untyped, unused-ignore]

        return google_crc32c.Checksum()  # type: ignore[no-untyped-call, unused-ignore]

    def reported_checksum(self, stored: t.Mapping[str, t.Any]) -> str | None:
        """The checksum Cloud Storage reports in an object resource (JSON field names)."""
        value = stored.get("crc32c" if self.policy.checksum == "crc32c" else "md5Hash")
        return None if value is None else str(value)


class UploadStream:
    """One file part on its way to Cloud Storage (what werkzeug writes the part into).

    States: ``open`` while bytes arrive, then ``stored`` (see :meth:`record`), ``skipped``
    (an empty file input: nothing was chosen), or ``aborted``.
    """

    def __init__(
        self,
        target: UploadTarget,
        filename: str | None,
        declared: str,
        *,
        admit: Callable[[], None] | None = None,
    ) -> None:
        self.target = target
        self.filename = filename
        self.declared = declared
        self.content_type = declared
        self.field: str | None = None
        self.size = 0
        self.state = "open"
        self.generation: int | None = None
        #: Called when the first bytes arrive (a part without a filename only counts,
        #: and is only checked, once it has content).
        self._admit = admit
        #: The first chunk, until the file proves longer (then the session's buffer).
        self._buffer: ChunkBuffer | None = None
        self._checked = False
        self._session: ResumableUpload | None = None
        self._blob: t.Any = None
        self._hash: t.Any = target.new_hash()

    # -- what werkzeug calls ---------------------------------------------------------------

    def write(self, data: bytes) -> int:
        if self.state != "open":
            raise ValueError(f"This upload is {self.state}; it accepts no more data.")
        if not data:
            return 0
        if self._admit is not None:
            admit, self._admit = self._admit, None
            admit()
        policy = self.target.policy
        self.size += len(data)
        if self.size > policy.max_file_size:
            raise policy.file_too_large(self.filename)
        self._hash.update(data)
        if self._session is not None:
            with self._errors():
                self._session.write(data)
            return len(data)
        buffer = self._buffer
        if buffer is None:
            buffer = self._buffer = take_buffer(self.target.chunk_size)
        taken = buffer.append(data)
        if not self._checked and len(buffer) >= SNIFF_BYTES:
            self._check()
        if taken < len(data):
            # More than one chunk: from here on the bytes stream to a resumable upload.
            session = self._start_session()
            with self._errors():
                session.write(memoryview(data)[taken:])
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        # werkzeug rewinds a file part once it has written all of it: for this stream that
        # is the end of the file, so the upload is finished here, while the rest of the
        # form is still being read. (Parts never rewound are finished by the receiver.)
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

    def finish(self) -> None:
        """Send what is left, check Cloud Storage's account of it, make the record."""
        if self._session is None:
            if self.size == 0:
                if not self.filename:
                    self.state = "skipped"
                    return
                if not self.target.policy.allow_empty:
                    raise BadUpload(
                        f"The file {sanitize_filename(self.filename)!r} is empty; choose "
                        "a file with content."
                    )
            if not self._checked:
                self._check()
            if self.size > ONE_REQUEST_LIMIT:
                self._start_session(size=self.size)
        if self._session is not None:
            with self._errors():
                stored = self._session.finish()
            self._session = None
        else:
            stored = self._upload_in_one_request()
        self.state = "stored"
        self.generation = int(stored["generation"]) if stored.get("generation") else None
        self._verify(stored)

    def record(self) -> StoredFile:
        """The :class:`StoredFile` of a stored upload."""
        blob = self._blob
        return StoredFile(
            bucket=blob.bucket.name,
            name=blob.name,
            size=self.size,
            content_type=self.content_type,
            checksum_algorithm=self.target.policy.checksum,
            checksum=self._checksum(),
            original_filename=sanitize_filename(self.filename),
            generation=self.generation,
            field=self.field,
        )

    def abort(self) -> None:
        """Cancel the resumable session or delete the stored object (never raises)."""
        state, self.state = self.state, "aborted"
        self._release_buffer()
        session, self._session = self._session, None
        try:
            if state == "stored":
                delete_quietly(self._blob, self.generation, self.target.retry)
            elif session is not None:
                # Cancels the resumable session (DELETE on its URI) so no object appears.
                session.cancel()
        except Exception:
            logger.warning("Could not clean up upload %s", self.where(), exc_info=True)

    def where(self) -> str:
        blob = self._blob
        return f"gs://{blob.bucket.name}/{blob.name}" if blob is not None else "not started"

    # -- inside ------------------------------------------------------------------------------

    def _check(self) -> None:
        head = self._buffer.head(SNIFF_BYTES) if self._buffer is not None else b""
        self.content_type = self.target.policy.check_content(self.filename, self.declared, head)
        self._checked = True

    def _new_blob(self) -> t.Any:
        self._blob = self.target.new_blob(sanitize_filename(self.filename))
        return self._blob

    def _errors(self) -> AbstractContextManager[None]:
        return storage_errors(self.target.bucket.name, self.filename, self.where)

    def _start_session(self, *, size: int | None = None) -> ResumableUpload:
        from .resumable import ResumableUpload

        blob = self._new_blob()
        with self._errors():
            url = open_session(self.target, blob, self.content_type, size)
        # The buffered first chunk becomes the session's buffer: nothing is copied.
        session = ResumableUpload(url, self.target.chunk_size, self._buffer)
        self._session = session
        self._buffer = None
        return session

    def _upload_in_one_request(self) -> dict[str, t.Any]:
        blob = self._new_blob()
        data = self._buffer.head(self.size) if self._buffer is not None else b""
        self._release_buffer()
        with self._errors():
            return create_in_one_request(
                self.target, blob, data, self.content_type, self._same_content
            )

    def _checksum(self) -> str:
        return base64.b64encode(self._hash.digest()).decode()

    def _same_content(self, stored: t.Mapping[str, t.Any]) -> bool:
        size = stored.get("size")
        return (
            size is not None
            and int(size) == self.size
            and self.target.reported_checksum(stored) == self._checksum()
        )

    def _verify(self, stored: t.Mapping[str, t.Any]) -> None:
        """Cloud Storage's size and checksum must be those of the bytes the app sent."""
        if self._same_content(stored):
            return
        algorithm = self.target.policy.checksum
        reported = self.target.reported_checksum(stored)
        self.abort()
        raise StorageUnavailable(
            f"Cloud Storage reported {stored.get('size')} bytes with {algorithm} "
            f"{reported!r} for {sanitize_filename(self.filename)!r}, but the app sent "
            f"{self.size} bytes with {algorithm} {self._checksum()!r}. The object was "
            "deleted; upload the file again."
        )

    def _release_buffer(self) -> None:
        buffer, self._buffer = self._buffer, None
        if buffer is not None:
            give_back(buffer)
