"""The Cloud Storage objects uploads create: create-only writes, clean-up, what errors mean.

Part of :mod:`gae.storage`. Everything an upload stream asks of Cloud Storage (besides
the chunks it sends to a resumable session) goes through the few functions here, with
the client library's own transport: objects are created with ``if_generation_match=0``
(never replacing one), deleted by exact generation, and Cloud Storage's failures become
4xx/5xx errors with a message.
"""

from __future__ import annotations

import contextlib
import typing as t
from urllib.parse import quote, unquote

from .policy import StorageUnavailable, UploadConflict, UploadRejected, sanitize_filename

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .stream import UploadTarget

#: Metadata key under which the sanitised original filename is stored on the object.
FILENAME_METADATA = "original-filename"
#: Prefix of a filename stored percent-encoded (RFC 8187's ``ext-value`` form).
_ENCODED = "UTF-8''"


def filename_metadata(filename: str) -> dict[str, str]:
    """The object metadata that records ``filename`` (already sanitised).

    Cloud Storage sends custom metadata back as ``x-goog-meta-*`` headers on every
    download, and HTTP headers are Latin-1 at best: the storage emulator drops the
    connection on ``данные.txt``. A name that is not plain ASCII is therefore stored
    percent-encoded as ``UTF-8''...`` (as in ``filename*=``); :func:`filename_from_metadata`
    reads both forms, so objects stored before keep their names.
    """
    plain = filename.isascii() and filename.isprintable()
    if plain and not filename.upper().startswith(_ENCODED):
        return {FILENAME_METADATA: filename}
    return {FILENAME_METADATA: _ENCODED + quote(filename, safe=" !#$&+-.^_`|~()[],;=@")}


def filename_from_metadata(metadata: t.Mapping[str, t.Any] | None) -> str | None:
    """The filename :func:`filename_metadata` recorded, or ``None``."""
    value = (metadata or {}).get(FILENAME_METADATA)
    if not value:
        return None
    value = str(value)
    if value.upper().startswith(_ENCODED):
        return unquote(value[len(_ENCODED) :], errors="replace")
    return value


def open_session(target: UploadTarget, blob: t.Any, content_type: str, size: int | None) -> str:
    """A resumable upload session for a new object (create-only); its URI."""
    # if_generation_match=0: the session can only create the object, never replace one.
    return t.cast(
        str,
        blob.create_resumable_upload_session(
            content_type=content_type,
            size=size,
            if_generation_match=0,
            checksum=None,
            **target.retry_options,
        ),
    )


def create_in_one_request(
    target: UploadTarget,
    blob: t.Any,
    data: bytes,
    content_type: str,
    ours: Callable[[t.Mapping[str, t.Any]], bool],
) -> dict[str, t.Any]:
    """Store ``data`` as a new object in one request (create-only); the object's resource.

    The library retries a request that timed out; if the first attempt did store the
    object, the retry finds it "already there": it is ours when ``ours`` says its size and
    checksum are those of ``data``.
    """
    from google.api_core.exceptions import PreconditionFailed

    try:
        blob.upload_from_string(
            data,
            content_type=content_type,
            if_generation_match=0,
            checksum=None,
            **target.retry_options,
        )
    except PreconditionFailed:
        existing = blob.bucket.get_blob(blob.name, **target.retry_options)
        if existing is None or not ours(reported_by(existing)):
            raise
        blob = existing
    return reported_by(blob)


def reported_by(blob: t.Any) -> dict[str, t.Any]:
    """What Cloud Storage says of a stored object, as an upload's final answer has it."""
    return {
        "size": blob.size,
        "crc32c": blob.crc32c,
        "md5Hash": blob.md5_hash,
        "generation": blob.generation,
    }


def delete_quietly(blob: t.Any, generation: int | None, retry: t.Any = None) -> None:
    """Delete exactly the generation this app wrote; fine if it is already gone."""
    from google.api_core.exceptions import NotFound, PreconditionFailed

    options = {} if retry is None else {"retry": retry}
    with contextlib.suppress(NotFound, PreconditionFailed):
        blob.delete(if_generation_match=generation, **options)


def status_of(error: BaseException) -> int | None:
    """The HTTP status behind a Cloud Storage error, if there is one."""
    code = getattr(error, "code", None)
    if isinstance(code, int):
        return code
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


@contextlib.contextmanager
def storage_errors(bucket: str, filename: str | None, where: Callable[[], str]) -> Iterator[None]:
    """Turn Cloud Storage failures while storing ``filename`` into clear HTTP errors.

    ``where`` names the object (asked only when something failed).
    """
    try:
        yield
    except UploadRejected:
        raise
    except Exception as error:
        if not is_storage_error(error):
            raise
        raise _failure(bucket, where(), sanitize_filename(filename), error) from error


def _failure(bucket: str, where: str, filename: str, error: Exception) -> Exception:
    status = status_of(error)
    if status in {409, 412}:
        return UploadConflict(
            f"An object named {where!r} already exists, so {filename!r} was not "
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
        f"Cloud Storage failed while storing {filename!r} ({type(error).__name__}: "
        f"{error}). Nothing from this upload was kept; try again."
    )


def is_storage_error(error: BaseException) -> bool:
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
