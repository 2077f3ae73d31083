"""Multipart file parts streamed into Cloud Storage while the request body is read.

Part of :mod:`gae.storage`. The hook is werkzeug's documented one: the request's
:meth:`~werkzeug.wrappers.Request.make_form_data_parser` returns a
:class:`~werkzeug.formparser.FormDataParser` whose ``stream_factory`` hands werkzeug an
:class:`UploadStream` for each file part. werkzeug writes the part into it 64 KiB at a
time; the stream checks the limits as bytes arrive and forwards them to Cloud Storage
(one request for a small file, a resumable upload in ``chunk_size`` pieces for a large
one), so memory stays at about one chunk whatever the file size.

If anything goes wrong before the form has been read completely (a limit, a bad type, a
malformed body, a client that goes away) every object this request created is deleted and
every unfinished resumable session is cancelled before the error propagates.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import typing as t

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from .storage_policy import (
    SNIFF_BYTES,
    BadUpload,
    FileTooLarge,
    StorageUnavailable,
    StoredFile,
    UploadConflict,
    UploadPolicy,
    UploadRejected,
    describe_size,
    normalize_type,
    sanitize_filename,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.wrappers import Request as _RequestBase
else:
    _RequestBase = object

logger = logging.getLogger("gae.storage")

#: WSGI environ key of the :class:`Receiver` that parses this request's body.
RECEIVER_KEY = "gae.storage.receiver"

#: Metadata key under which the sanitised original filename is stored on the object.
FILENAME_METADATA = "original-filename"


class UploadRequestMixin(_RequestBase):
    """Lets :mod:`gae.storage` receive this request's files (added by ``Storage(app)``).

    Only requests for which :meth:`gae.storage.Storage.receive` was called are affected;
    every other request parses its form exactly as before.
    """

    def make_form_data_parser(self) -> FormDataParser:
        receiver = self.environ.get(RECEIVER_KEY)
        if isinstance(receiver, Receiver) and not receiver.parser_made:
            return receiver.make_parser(self)
        return super().make_form_data_parser()


class Receiver:
    """Everything one request's upload needs: its policy, bucket, and the streams opened."""

    def __init__(
        self,
        *,
        bucket: t.Any,
        policy: UploadPolicy,
        chunk_size: int,
        object_namer: Callable[[UploadPolicy], str],
    ) -> None:
        self.bucket = bucket
        self.policy = policy
        self.chunk_size = chunk_size
        self.object_namer = object_namer
        self.streams: list[UploadStream] = []
        self.files_seen = 0
        self.parser_made = False
        self.bytes_read = 0

    def make_parser(self, request: _RequestBase) -> FormDataParser:
        """The form parser for ``request``, with this receiver as its stream factory."""
        self.parser_made = True
        return UploadFormDataParser(
            self,
            stream_factory=self.open_stream,
            max_form_memory_size=request.max_form_memory_size,
            max_content_length=request.max_content_length,
            max_form_parts=request.max_form_parts,
            cls=request.parameter_storage_class,
            # Malformed bodies become a 400 with a message instead of an empty form.
            silent=False,
        )

    def open_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> t.IO[bytes]:
        """werkzeug's stream factory: called at the start of each file part."""
        declared = normalize_type(content_type)
        if filename:
            self.count_file(filename)
            self.policy.check_declared(filename, declared)
        if content_length and content_length > self.policy.max_file_size:
            raise self.file_too_large(filename)
        stream = UploadStream(self, filename, declared)
        self.streams.append(stream)
        return t.cast(t.IO[bytes], stream)

    def count_file(self, filename: str | None) -> None:
        """Count one more file; reject the request once there are too many."""
        self.files_seen += 1
        limit = self.policy.max_files
        if self.files_seen > limit:
            raise FileTooLarge(
                f"This request sends more than {limit} file{'s' if limit != 1 else ''} "
                f"(the extra one is {sanitize_filename(filename)!r}); send at most {limit} "
                "per request."
            )

    def file_too_large(self, filename: str | None) -> FileTooLarge:
        limit = self.policy.max_file_size
        return FileTooLarge(
            f"The file {sanitize_filename(filename)!r} is larger than the limit of "
            f"{describe_size(limit)} per file. Upload a smaller file."
        )

    def request_too_large(self) -> FileTooLarge:
        limit = self.policy.max_request_size or 0
        return FileTooLarge(
            f"The request body is larger than the limit of {describe_size(limit)} for this "
            "upload. Send fewer or smaller files; files over 32 MiB must go straight to "
            "Cloud Storage with a signed upload URL."
        )

    def complete(self, files: MultiDict[str, FileStorage]) -> None:
        """Finish the parts werkzeug completed; an unfinished part means a truncated body."""
        complete: set[int] = set()
        for field, file in files.items(multi=True):
            stream = file.stream
            if isinstance(stream, UploadStream) and stream.receiver is self:
                stream.field = field
                complete.add(id(stream))
                if stream.state == "open":
                    stream.finish()
        if any(id(s) not in complete for s in self.streams):
            raise BadUpload(
                "The request body ended in the middle of a file: the upload is incomplete "
                "and nothing was kept. Send the whole file again."
            )

    def abort(self) -> None:
        """Undo this request's uploads: cancel sessions, delete stored objects."""
        for stream in self.streams:
            stream.abort()

    def records(self) -> list[StoredFile]:
        """The stored files, in the order of the form."""
        return [s.record() for s in self.streams if s.state == "stored"]


class UploadFormDataParser(FormDataParser):
    """werkzeug's form parser, undoing every upload of the request when parsing fails."""

    def __init__(self, receiver: Receiver, **options: t.Any) -> None:
        super().__init__(**options)
        self.receiver = receiver

    def parse(
        self,
        stream: t.IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str] | None = None,
    ) -> tuple[t.IO[bytes], MultiDict[str, str], MultiDict[str, FileStorage]]:
        receiver = self.receiver
        counted = t.cast(t.IO[bytes], _CountingReader(stream, receiver))
        try:
            _, form, files = super().parse(counted, mimetype, content_length, options)
            receiver.complete(files)
        except UploadRejected:
            receiver.abort()
            raise
        except RequestEntityTooLarge as error:
            # werkzeug's own limits, with its generic message: say which one it was.
            receiver.abort()
            limit = receiver.policy.max_request_size
            if limit is not None and receiver.bytes_read >= limit:
                raise receiver.request_too_large() from error
            raise FileTooLarge(
                "A text field of this form is larger than MAX_FORM_MEMORY_SIZE "
                f"({self.max_form_memory_size} bytes) or the form has more than "
                f"MAX_FORM_PARTS ({self.max_form_parts}) parts. Shorten the fields, or "
                "raise those settings."
            ) from error
        except ValueError as error:
            receiver.abort()
            raise BadUpload(
                f"The multipart form could not be read ({error}); nothing was kept. Send it "
                "as multipart/form-data with a boundary, as a browser form does."
            ) from error
        except BaseException:
            # A client that went away (ClientDisconnected), a storage failure, anything.
            receiver.abort()
            raise
        return stream, form, files


class _CountingReader:
    """The request stream, counting bytes and enforcing the policy's request limit."""

    def __init__(self, stream: t.IO[bytes], receiver: Receiver) -> None:
        self._stream = stream
        self._receiver = receiver

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        receiver = self._receiver
        receiver.bytes_read += len(data)
        limit = receiver.policy.max_request_size
        if limit is not None and receiver.bytes_read > limit:
            raise receiver.request_too_large()
        return data


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
        self._buffer = bytearray()
        self._checked = False
        self._writer: t.Any = None
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
        if self._writer is not None:
            with storage_errors(self):
                self._writer.write(data)
            return len(data)
        self._buffer += data
        if not self._checked and len(self._buffer) >= SNIFF_BYTES:
            self._check()
        if len(self._buffer) >= receiver.chunk_size:
            self._start_resumable()
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
        head = bytes(self._buffer[:SNIFF_BYTES])
        self.content_type = self.receiver.policy.check_content(self.filename, self.declared, head)
        self._checked = True

    def _new_blob(self) -> t.Any:
        receiver = self.receiver
        blob = receiver.bucket.blob(receiver.object_namer(receiver.policy))
        blob.metadata = {FILENAME_METADATA: sanitize_filename(self.filename)}
        self._blob = blob
        return blob

    def _start_resumable(self) -> None:
        blob = self._new_blob()
        with storage_errors(self):
            # if_generation_match=0: create only, never replace an existing object.
            writer = blob.open(
                "wb",
                chunk_size=self.receiver.chunk_size,
                ignore_flush=True,
                content_type=self.content_type,
                if_generation_match=0,
                checksum=None,
            )
            self._writer = writer
            data, self._buffer = bytes(self._buffer), bytearray()
            writer.write(data)

    def finish(self) -> None:
        """Send what is left, check Cloud Storage's account of it, make the record."""
        policy = self.receiver.policy
        if self._writer is None:
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
            blob = self._new_blob()
            with storage_errors(self):
                data, self._buffer = bytes(self._buffer), bytearray()
                blob.upload_from_string(
                    data, content_type=self.content_type, if_generation_match=0, checksum=None
                )
        else:
            blob = self._blob
            with storage_errors(self):
                self._writer.close()
                blob.reload()
        self.state = "stored"
        self._verify(blob)

    def _verify(self, blob: t.Any) -> None:
        algorithm = self.receiver.policy.checksum
        reported = blob.crc32c if algorithm == "crc32c" else blob.md5_hash
        expected = base64.b64encode(self._hash.digest()).decode()
        if blob.size == self.size and reported == expected:
            return
        self.abort()
        raise StorageUnavailable(
            f"Cloud Storage reported {blob.size} bytes with {algorithm} {reported!r} for "
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
            generation=blob.generation,
            field=self.field,
        )

    def abort(self) -> None:
        """Cancel the resumable session or delete the stored object (never raises)."""
        state, self.state = self.state, "aborted"
        self._buffer = bytearray()
        writer, self._writer = self._writer, None
        try:
            if state == "stored":
                delete_quietly(self._blob)
            elif writer is not None:
                # Cancels the resumable session (DELETE on its URI) so no object appears.
                writer.terminate()
        except Exception:
            logger.warning("Could not clean up upload %s", self.where(), exc_info=True)

    def where(self) -> str:
        blob = self._blob
        return f"gs://{blob.bucket.name}/{blob.name}" if blob is not None else "not started"


def _new_hash(algorithm: str) -> t.Any:
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    import google_crc32c  # type: ignore[import-untyped, unused-ignore]

    return google_crc32c.Checksum()


def delete_quietly(blob: t.Any) -> None:
    """Delete exactly the generation this app wrote; fine if it is already gone."""
    from google.api_core.exceptions import NotFound, PreconditionFailed

    try:
        blob.delete(if_generation_match=blob.generation)
    except (NotFound, PreconditionFailed):
        pass


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
            "service account roles/storage.objectCreator and roles/storage.objectViewer "
            "on the bucket."
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

    kinds = (GoogleAPIError, TransportError, InvalidResponse, DataCorruption, RequestException)
    return isinstance(error, kinds)
