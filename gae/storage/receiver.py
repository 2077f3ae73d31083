"""Multipart file parts streamed into Cloud Storage while the request body is read.

Part of :mod:`gae.storage`. The hooks are werkzeug's public ones: the request's
:meth:`~werkzeug.wrappers.Request.make_form_data_parser` returns a
:class:`~werkzeug.formparser.FormDataParser` whose :meth:`parse` runs werkzeug's
:class:`~werkzeug.formparser.MultiPartParser` with a ``stream_factory`` that hands it an
:class:`~gae.storage.stream.UploadStream` for each file part. The parser writes the part
into it as it reads the body (up to 1 MiB at a time); the stream checks the limits as
bytes arrive and forwards them to Cloud Storage (one request for a small file, a
resumable upload in ``chunk_size`` pieces for a large one), so memory stays at about one
chunk whatever the file size.

If anything goes wrong before the form has been read completely (a limit, a bad type, a
malformed body, a client that goes away) every object this request created is deleted and
every unfinished resumable session is cancelled before the error propagates.
"""

from __future__ import annotations

import typing as t

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser

from .policy import (
    BadUpload,
    FileTooLarge,
    StoredFile,
    UploadPolicy,
    UploadRejected,
    describe_size,
    normalize_type,
    sanitize_filename,
)
from .stream import UploadStream, UploadTarget

#: Most bytes werkzeug's multipart parser reads from the request at a time; at least
#: its own default (64 KiB).
PARSER_BUFFER_SIZE = 1024 * 1024
MIN_PARSER_BUFFER_SIZE = 64 * 1024

if t.TYPE_CHECKING:
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.wrappers import Request as _RequestBase
else:
    _RequestBase = object

#: WSGI environ key of the :class:`Receiver` that parses this request's body.
RECEIVER_KEY = "gae.storage.receiver"

#: Attribute ``Storage.accepts_uploads`` sets on a view: the policy for its uploads.
POLICY_ATTRIBUTE = "gae_storage_policy"
#: Attribute ``Storage.accepts_uploads(allow=...)`` sets on a view: its upload guard.
ALLOW_ATTRIBUTE = "gae_storage_allow"


class UploadRequestMixin(_RequestBase):
    """Lets :mod:`gae.storage` receive this request's files (added by ``Storage(app)``).

    Only requests for which :meth:`gae.storage.Storage.receive` was called, or whose view
    is marked with ``accepts_uploads``, are affected; every other request parses its form
    exactly as before.
    """

    def make_form_data_parser(self) -> FormDataParser:
        receiver = self.environ.get(RECEIVER_KEY)
        if receiver is None:
            receiver = _begin_for_marked_view(self)
        if isinstance(receiver, Receiver) and not receiver.parser_made:
            return receiver.make_parser(self)
        return super().make_form_data_parser()


def _begin_for_marked_view(request: _RequestBase) -> Receiver | None:
    """The receiver for a view marked with ``accepts_uploads``, whoever parses the form."""
    from framework import current_app, has_app_context

    rule = getattr(request, "url_rule", None)
    if rule is None or not has_app_context() or request.mimetype != "multipart/form-data":
        return None
    view = current_app.view_functions.get(rule.endpoint)
    policy = getattr(view, POLICY_ATTRIBUTE, None)
    storage = current_app.extensions.get("gae.storage")
    if not isinstance(policy, UploadPolicy) or storage is None:
        return None
    # The guard runs here, before the parser reads the first byte of the body.
    return t.cast(Receiver, storage.begin(policy, allow=getattr(view, ALLOW_ATTRIBUTE, None)))


class Receiver:
    """One request's upload: its :class:`~gae.storage.stream.UploadTarget` and the streams
    opened for its file parts (in form order)."""

    def __init__(self, target: UploadTarget) -> None:
        self.target = target
        self.policy = target.policy
        self.streams: list[UploadStream] = []
        self.files_seen = 0
        self.parser_made = False
        self.bytes_read = 0
        #: Whether ``Storage.receive()`` handed the records to the view.
        self.claimed = False
        #: Whether the view asked to keep the files whatever the response (``Storage.keep``).
        self.keep = False

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
        admit = None
        if filename:
            self.admit(filename, declared)
        else:
            # An empty file input sends a part without a filename and without content: it
            # only counts as a file, and is only checked, if bytes arrive after all.
            def admit() -> None:
                self.admit(filename, declared)

        if content_length and content_length > self.policy.max_file_size:
            raise self.policy.file_too_large(filename)
        stream = UploadStream(self.target, filename, declared, admit=admit)
        self.streams.append(stream)
        return t.cast(t.IO[bytes], stream)

    def admit(self, filename: str | None, declared: str) -> None:
        """Count one more file and check its declared type and name against the policy."""
        self.files_seen += 1
        limit = self.policy.max_files
        if self.files_seen > limit:
            raise FileTooLarge(
                f"This request sends more than {limit} file{'s' if limit != 1 else ''} "
                f"(the extra one is {sanitize_filename(filename)!r}); send at most {limit} "
                "per request."
            )
        self.policy.check_declared(filename, declared)

    def complete(self, files: MultiDict[str, FileStorage]) -> None:
        """Finish the parts werkzeug completed; an unfinished part means a truncated body."""
        complete: set[int] = set()
        ours = {id(stream) for stream in self.streams}
        for field, file in files.items(multi=True):
            stream = file.stream
            if isinstance(stream, UploadStream) and id(stream) in ours:
                stream.field = field
                complete.add(id(stream))
                if stream.state == "open":
                    stream.finish()
        if ours - complete:
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


def request_too_large(limit: int) -> FileTooLarge:
    """The 413 for a request body over the policy's ``max_request_size``."""
    return FileTooLarge(
        f"The request body is larger than the limit of {describe_size(limit)} for this "
        "upload. Send fewer or smaller files; files over 32 MiB must go straight to "
        "Cloud Storage with a signed upload URL."
    )


class UploadFormDataParser(FormDataParser):
    """werkzeug's form parser, reading larger blocks and undoing every upload of the
    request when parsing fails."""

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
        if mimetype != "multipart/form-data":
            return super().parse(stream, mimetype, content_length, options)
        receiver = self.receiver
        try:
            boundary = (options or {}).get("boundary", "").encode("ascii")
            if not boundary:
                raise ValueError("Missing boundary")
            # werkzeug's own multipart parser (the one FormDataParser runs), with larger
            # reads: the file bytes pass through Python once per read, so fewer, larger
            # reads cost less.
            parser = MultiPartParser(
                stream_factory=self.stream_factory,
                max_form_memory_size=self.max_form_memory_size,
                max_form_parts=self.max_form_parts,
                cls=self.cls,
                buffer_size=parser_read_size(self.max_form_memory_size),
            )
            counted = t.cast(t.IO[bytes], _CountingReader(stream, receiver))
            form, files = parser.parse(counted, boundary, content_length)
            receiver.complete(files)
        except UploadRejected:
            receiver.abort()
            raise
        except RequestEntityTooLarge as error:
            # werkzeug's own limits, with its generic message: say which one it was.
            receiver.abort()
            # The policy's limit, or the app's MAX_CONTENT_LENGTH when the policy has none.
            limit = receiver.policy.max_request_size or self.max_content_length
            if limit is not None and receiver.bytes_read >= limit:
                raise request_too_large(limit) from error
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


def parser_read_size(max_form_memory_size: int | None) -> int:
    """How much the multipart parser reads at a time, given ``MAX_FORM_MEMORY_SIZE``."""
    if max_form_memory_size is None:
        return PARSER_BUFFER_SIZE
    # werkzeug refuses a read that would take its buffer past max_form_memory_size.
    return max(MIN_PARSER_BUFFER_SIZE, min(PARSER_BUFFER_SIZE, max_form_memory_size // 2))


class _CountingReader:
    """The request stream, counting bytes and enforcing the policy's request limit."""

    def __init__(self, stream: t.IO[bytes], receiver: Receiver) -> None:
        self._stream = stream
        self._receiver = receiver

    def read(self, size: int = -1) -> bytes:
        receiver = self._receiver
        if receiver.bytes_read == 0 and not 0 <= size <= MIN_PARSER_BUFFER_SIZE:
            # A small first read: it holds the first part's headers, and an upload refused
            # on them (its declared type, extension, name) should cost no more than that.
            size = MIN_PARSER_BUFFER_SIZE
        data = self._stream.read(size)
        receiver.bytes_read += len(data)
        limit = receiver.policy.max_request_size
        if limit is not None and receiver.bytes_read > limit:
            raise request_too_large(limit)
        return data
