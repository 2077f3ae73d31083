"""Private objects served through the app: streamed, with ``Range`` and validators.

Part of :mod:`gae.storage` (use :meth:`gae.storage.Storage.send`). The object is read from
Cloud Storage in ``chunk_size`` pieces while the response is sent, so memory stays flat;
only the requested byte range is fetched. Every response carries ``nosniff`` and a safe
``Content-Disposition``; types a browser could execute (HTML, SVG, scripts) are always
sent as attachments, so a user's upload can never run as a page of the app.

Cloud Storage calls are retried for ``GCS_RETRY_SECONDS`` at most (as uploads are): a
failure before the response starts (reading the object's metadata, or its first chunk)
is a :class:`StorageUnavailable` 503 with ``Retry-After``; one later, while the body is
being sent, can only end the response early (the client sees a short body) and is logged
by the server as a ``StorageUnavailable``.
"""

from __future__ import annotations

import contextlib
import typing as t

from werkzeug.exceptions import NotFound
from werkzeug.http import http_date, is_resource_modified

from framework import current_app, request

from .client import StorageCore
from .objects import filename_from_metadata, is_storage_error, status_of
from .policy import StorageUnavailable, StoredFile, content_disposition, normalize_type

if t.TYPE_CHECKING:
    import datetime
    from collections.abc import Iterator

    from werkzeug.wrappers import Request
    from werkzeug.wrappers import Response as BaseResponse

    from framework import Response

R = t.TypeVar("R", bound="BaseResponse")

#: Seconds a client is asked to wait before retrying a download Cloud Storage failed.
RETRY_AFTER = 5

#: Reads bytes ``start`` to ``end`` (inclusive) of the object being sent.
Reader = t.Callable[[int, int], bytes]

#: Types shown inline when asked (``as_attachment=False``); anything else is an attachment.
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "application/pdf",
        "text/plain",
    }
)


class Downloads(StorageCore):
    """The download half of :class:`gae.storage.Storage`."""

    def _blob_for(self, target: StoredFile | str) -> t.Any:
        if isinstance(target, StoredFile):
            return self.client.bucket(target.bucket).blob(target.name)
        return self.bucket().blob(target)

    def download_url(
        self,
        target: StoredFile | str,
        *,
        expires: datetime.timedelta | int | None = None,
        download_name: str | None = None,
        as_attachment: bool = True,
    ) -> str:
        """A V4 signed, short-lived ``GET`` URL (default 15 minutes) for a private object.

        Cloud Storage sends it with a safe ``Content-Disposition`` for ``download_name``
        (default: the original filename of a :class:`StoredFile`).
        """
        blob = self._blob_for(target)
        name = download_name or _original_name(target, blob)
        content_type = target.content_type if isinstance(target, StoredFile) else None
        attachment = as_attachment or not (content_type and inline_allowed(content_type))
        return t.cast(
            str,
            blob.generate_signed_url(
                version="v4",
                expiration=self.expiry(expires),
                method="GET",
                response_disposition=content_disposition(name, as_attachment=attachment),
                credentials=self.signing_credentials(),
                api_access_endpoint=self.signed_url_endpoint(),
            ),
        )

    def send(
        self,
        target: StoredFile | str,
        *,
        download_name: str | None = None,
        as_attachment: bool = True,
        max_age: int = 0,
    ) -> Response:
        """A streamed response for a private object, with ``Range`` and caching headers.

        Use it from a view that has checked the user may see the file. ``max_age`` > 0
        lets the browser reuse its copy for that many seconds (``Cache-Control: private``).
        """
        blob = self._blob_for(target)
        options = {"retry": self.retry, "timeout": self.retry_seconds}
        with download_errors(blob.name):
            blob.reload(**options)
        return send_blob(
            blob,
            request,
            current_app.response_class,
            download_name=download_name or _original_name(target, blob),
            as_attachment=as_attachment,
            max_age=max_age,
            chunk_size=self.download_chunk_size,
            options=options,
        )

    def delete(self, target: StoredFile | str) -> bool:
        """Delete a stored file (only the generation recorded); whether it existed."""
        from google.api_core.exceptions import NotFound

        blob = self._blob_for(target)
        generation = target.generation if isinstance(target, StoredFile) else None
        try:
            blob.delete(if_generation_match=generation, retry=self.retry)
        except NotFound:
            return False
        return True


def _original_name(target: StoredFile | str, blob: t.Any) -> str:
    if isinstance(target, StoredFile):
        return target.original_filename
    return filename_from_metadata(blob.metadata) or str(blob.name.rpartition("/")[2])


def inline_allowed(mimetype: str) -> bool:
    """Whether a type is safe to render inline on the app's origin."""
    return mimetype in INLINE_TYPES or mimetype.startswith(("audio/", "video/"))


def send_blob(
    blob: t.Any,
    request: Request,
    response_class: type[R],
    *,
    download_name: str,
    as_attachment: bool,
    max_age: int,
    chunk_size: int,
    options: t.Mapping[str, t.Any] | None = None,
) -> R:
    """The response for ``GET``/``HEAD`` of ``blob`` (already loaded with its metadata).

    ``options`` go to every read (``retry``, ``timeout``). The first chunk is read before
    the response is returned, so a Cloud Storage failure can still become a 503.
    """
    size = int(blob.size or 0)
    mimetype = normalize_type(blob.content_type)
    attachment = as_attachment or not inline_allowed(mimetype)
    # A generation names one immutable version of the object: the perfect strong ETag.
    etag = f"g{blob.generation}"
    headers: dict[str, str] = {
        "Content-Type": blob.content_type or mimetype,
        "Content-Disposition": content_disposition(download_name, as_attachment=attachment),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": f"private, max-age={max_age}" if max_age > 0 else "private, no-cache",
        "Accept-Ranges": "bytes",
        "ETag": f'"{etag}"',
    }
    if blob.updated is not None:
        headers["Last-Modified"] = http_date(blob.updated)
    if blob.content_encoding:
        # Bytes are sent as stored (raw_download), so their encoding goes with them.
        headers["Content-Encoding"] = blob.content_encoding
    if not is_resource_modified(request.environ, etag=etag, last_modified=blob.updated):
        headers.pop("Content-Type")
        return response_class(status=304, headers=headers)

    start, stop, status = 0, size, 200
    requested = request.range
    if requested is not None and _if_range_holds(request, etag, blob.updated):
        span = requested.range_for_length(size)
        if span is not None:
            start, stop, status = span[0], span[1], 206
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        elif len(requested.ranges) == 1:
            # One range, but outside the object.
            return response_class(
                f"The requested range {request.headers.get('Range')!r} is outside the file "
                f"of {size} bytes.",
                status=416,
                headers={"Content-Range": f"bytes */{size}", "Content-Type": "text/plain"},
            )
        # Several ranges: answering with the whole file is allowed (RFC 9110 14.2).
    read = _reader(blob, blob.generation, dict(options or {}))
    body: Iterator[bytes] = iter(())
    if request.method != "HEAD":
        body = _chunks(read, start, stop, chunk_size)
        first = next(body, b"")  # a failure here is still a 503, not a broken response
        body = _prepend(first, body)
    response = response_class(body, status=status, headers=headers, direct_passthrough=True)
    response.content_length = stop - start
    return response


def _if_range_holds(request: Request, etag: str, updated: t.Any) -> bool:
    """``If-Range``: the range applies only to the version the client already has."""
    if_range = request.if_range
    if if_range.etag is not None:
        return if_range.etag == etag
    if if_range.date is not None:
        return updated is not None and updated.replace(microsecond=0) <= if_range.date
    return True


def _reader(blob: t.Any, generation: int | None, options: dict[str, t.Any]) -> Reader:
    # Pinned to the generation the headers describe (taken before the first read, which
    # refreshes the blob's properties): a replaced object fails the download instead of
    # mixing two versions in one response.
    def read(start: int, end: int) -> bytes:
        with download_errors(blob.name):
            return t.cast(
                bytes,
                blob.download_as_bytes(
                    start=start,
                    end=end,
                    raw_download=True,
                    checksum=None,
                    if_generation_match=generation,
                    **options,
                ),
            )

    return read


def _chunks(read: Reader, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
    position = start
    while position < stop:
        end = min(position + chunk_size, stop)
        yield read(position, end - 1)
        position = end


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


@contextlib.contextmanager
def download_errors(name: str) -> Iterator[None]:
    """Cloud Storage failures while reading ``name`` as HTTP errors: a missing object is
    a 404, anything else a 503 with ``Retry-After``."""
    from google.api_core.exceptions import NotFound

    try:
        yield
    except NotFound:
        raise missing(name) from None
    except Exception as error:
        if not is_storage_error(error):
            raise
        raise _unavailable(name, error) from error


def _unavailable(name: str, error: Exception) -> StorageUnavailable:
    status = status_of(error)
    if status in {401, 403}:
        message = (
            f"The app may not read {name!r} from Cloud Storage (HTTP {status}). Grant its "
            "service account roles/storage.objectViewer on the bucket."
        )
    elif status == 412:
        message = f"The stored file {name!r} changed while it was being sent; try again."
    else:
        message = (
            f"Cloud Storage could not be reached to send {name!r} ({type(error).__name__}). "
            "Try again in a moment."
        )
    return StorageUnavailable(message, retry_after=RETRY_AFTER)


def missing(name: str) -> NotFound:
    """The 404 for an object that does not exist."""
    return NotFound(f"There is no stored file {name!r}; it may have been deleted.")
