"""What an upload may be, what is kept about it, and the errors a rejected one gets.

Part of :mod:`gae.storage` (import the public names from there). Nothing here talks to
Cloud Storage: these are the rules (:class:`UploadPolicy`), the record (:class:`StoredFile`),
filename clean-up and content sniffing shared by uploads through the app and direct uploads.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
import unicodedata
from urllib.parse import quote

from werkzeug.exceptions import (
    BadRequest,
    Conflict,
    Forbidden,
    HTTPException,
    NotFound,
    RequestEntityTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from werkzeug.http import parse_options_header

from gae.errors import GaeError

from .sniff import DECLARED_FAMILY, is_textual, looks_like_text, sniff

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

#: App Engine refuses request bodies over 32 MiB before they reach the app.
APP_ENGINE_REQUEST_LIMIT = 32 * MiB

OCTET_STREAM = "application/octet-stream"

Checksum = t.Literal["crc32c", "md5"]


# -- errors --------------------------------------------------------------------------------


class UploadRejected(GaeError, HTTPException):
    """Base of the errors a rejected upload raises; each is a 4xx response with a message."""


class FileTooLarge(UploadRejected, RequestEntityTooLarge):
    """413: a file, the request or the number of files is over the policy's limit."""


class FileTypeRejected(UploadRejected, UnsupportedMediaType):
    """415: the declared type, the extension or the file's first bytes are not allowed."""


class BadUpload(UploadRejected, BadRequest):
    """400: the upload is malformed, empty, incomplete, or its ticket is invalid."""


class UploadNotFound(UploadRejected, NotFound):
    """404: a direct upload was finalized before its object reached the bucket."""


class UploadConflict(UploadRejected, Conflict):
    """409: the generated object name is already taken (nothing was overwritten), or a
    direct upload was finalized already."""


class UploadForbidden(UploadRejected, Forbidden):
    """403: the upload is not allowed for this request (an ``allow`` guard said no), or a
    direct-upload ticket was issued for another purpose."""


class StorageUnavailable(GaeError, ServiceUnavailable):
    """503: Cloud Storage failed while storing; nothing from this upload was kept."""


# -- sizes and names -----------------------------------------------------------------------


def describe_size(size: int) -> str:
    """``10485760`` -> ``"10 MiB (10,485,760 bytes)"``: readable, and exact."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if size >= unit:
            value = size / unit
            shown = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
            return f"{shown} {name} ({size:,} bytes)"
    return f"{size:,} bytes"


_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|]+")
_MAX_FILENAME_BYTES = 200


def sanitize_filename(filename: str | None, default: str = "upload") -> str:
    """The user's filename made safe to keep as metadata and to send back in headers.

    Keeps only the last path component (browsers on Windows send ``C:\\...``), normalises
    Unicode (NFC), drops control and reserved characters, leading dots (no hidden or
    ``..`` names) and caps the length at 200 UTF-8 bytes, keeping the extension.
    """
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE_FILENAME.sub("_", name)
    name = " ".join(name.split()).lstrip(". ").rstrip(". ")
    if not name.strip("_"):
        return default
    if len(name.encode()) > _MAX_FILENAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        ext = f".{ext}" if dot and len(ext) <= 16 else ""
        stem = stem if dot and ext else name
        budget = _MAX_FILENAME_BYTES - len(ext.encode())
        stem = stem.encode()[:budget].decode(errors="ignore")
        name = stem + ext
    return name


def extension_of(filename: str | None) -> str:
    """Lower-case extension without the dot (``"Photo.JPG"`` -> ``"jpg"``), or ``""``."""
    name = sanitize_filename(filename, default="")
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def content_disposition(filename: str | None, *, as_attachment: bool = True) -> str:
    """A ``Content-Disposition`` value that is safe whatever the filename holds.

    An ASCII ``filename=`` for old clients and an RFC 6266 ``filename*=`` with the exact
    Unicode name; quotes, backslashes, control characters and paths cannot get through.
    """
    kind = "attachment" if as_attachment else "inline"
    name = sanitize_filename(filename, default="download")
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = re.sub(r"[^A-Za-z0-9._ ()\[\]+-]", "_", fallback).strip()
    if not fallback or fallback.startswith("."):
        # A name in another script keeps only its extension: "данные.txt" -> ".txt",
        # a hidden file's name to old clients; "download.txt" says what it is.
        fallback = "download" + fallback
    if fallback == name:
        return f'{kind}; filename="{name}"'
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def normalize_type(content_type: str | None) -> str:
    """``"Image/PNG; x=1"`` -> ``"image/png"``; missing or malformed -> octet-stream."""
    mimetype = parse_options_header(content_type or "")[0].strip().lower()
    if not re.fullmatch(r"[a-z0-9][\w.+-]*/[\w.+-]+", mimetype):
        return OCTET_STREAM
    return mimetype


# -- the policy ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UploadPolicy:
    """The limits an upload must meet; immutable, so one instance can serve every request.

    ``allowed_types`` holds MIME types (``"image/png"``) or families (``"image/*"``);
    ``allowed_extensions`` holds extensions without the dot. ``None`` allows any, but the
    file's first bytes must still agree with its declared type. Object names are
    ``prefix`` + a random UUID; the user's filename is only kept as metadata.
    """

    max_file_size: int = 10 * MiB
    max_request_size: int | None = APP_ENGINE_REQUEST_LIMIT
    max_files: int = 10
    allowed_types: t.AbstractSet[str] | None = None
    allowed_extensions: t.AbstractSet[str] | None = None
    prefix: str = "uploads/"
    checksum: Checksum = "crc32c"
    allow_empty: bool = False

    def __post_init__(self) -> None:
        if self.max_file_size < 1:
            raise ValueError(f"max_file_size must be at least 1 byte, not {self.max_file_size}.")
        if self.max_request_size is not None and self.max_request_size < 1:
            raise ValueError(
                f"max_request_size must be at least 1 byte or None, not {self.max_request_size}."
            )
        if self.max_files < 1:
            raise ValueError(f"max_files must be at least 1, not {self.max_files}.")
        if self.checksum not in {"crc32c", "md5"}:
            raise ValueError(f"checksum must be 'crc32c' or 'md5', not {self.checksum!r}.")
        if self.prefix.startswith("/") or ".." in self.prefix.split("/"):
            raise ValueError(
                f"prefix must be a relative object-name prefix such as 'uploads/', "
                f"not {self.prefix!r}."
            )
        # Accept lists/sets and '.PNG' spellings, store the canonical form.
        if self.allowed_types is not None:
            types = frozenset(s.strip().lower() for s in self.allowed_types)
            object.__setattr__(self, "allowed_types", types)
        if self.allowed_extensions is not None:
            exts = frozenset(s.strip().lower().lstrip(".") for s in self.allowed_extensions)
            object.__setattr__(self, "allowed_extensions", exts)

    def replace(self, **changes: t.Any) -> UploadPolicy:
        """A copy with some fields changed: ``policy.replace(max_file_size=5 * MiB)``."""
        return dataclasses.replace(self, **changes)

    def type_allowed(self, mimetype: str) -> bool:
        """Whether ``mimetype`` is in :attr:`allowed_types` (directly or by ``family/*``)."""
        allowed = self.allowed_types
        if allowed is None:
            return True
        return mimetype in allowed or f"{mimetype.partition('/')[0]}/*" in allowed

    def file_too_large(self, filename: str | None) -> FileTooLarge:
        """The 413 for a file over :attr:`max_file_size` (raised as its bytes arrive)."""
        return FileTooLarge(
            f"The file {sanitize_filename(filename)!r} is larger than the limit of "
            f"{describe_size(self.max_file_size)} per file. Upload a smaller file."
        )

    def check_declared(self, filename: str | None, declared: str) -> None:
        """Reject early, before any byte of the file is read, what the headers rule out."""
        exts = self.allowed_extensions
        if exts is not None:
            ext = extension_of(filename)
            if ext not in exts:
                shown = f"'.{ext}'" if ext else "no extension"
                raise FileTypeRejected(
                    f"The file {sanitize_filename(filename)!r} has {shown}; this upload "
                    f"accepts {_listing(f'.{e}' for e in exts)}. Choose a file of one of "
                    "those kinds."
                )
        if declared != OCTET_STREAM and not self.type_allowed(declared):
            raise FileTypeRejected(
                f"The file {sanitize_filename(filename)!r} is declared as {declared!r}; "
                f"this upload accepts {self._types_text()}."
            )

    def check_content(self, filename: str | None, declared: str, head: bytes) -> str:
        """The content type to record, once the first bytes agree with the declared type.

        ``head`` is the file's first :data:`SNIFF_BYTES` bytes (or all of a shorter file).
        Raises :class:`FileTypeRejected` when the bytes contradict the declared type or
        the type is not allowed.
        """
        shown = sanitize_filename(filename)
        family = DECLARED_FAMILY.get(declared)
        found = sniff(head)
        if family is not None:
            if found is None or found[0] != family:
                what = f"looks like {found[1]!r}" if found else "does not start like one"
                raise FileTypeRejected(
                    f"The file {shown!r} is declared as {declared!r} but its content {what}. "
                    "Upload a real file of the declared type."
                )
            effective = declared
        elif found is not None:
            if declared != OCTET_STREAM:
                raise FileTypeRejected(
                    f"The file {shown!r} is declared as {declared!r} but its content is "
                    f"{found[1]!r}. Upload it with its real type."
                )
            effective = found[1]
        else:
            if is_textual(declared) and not looks_like_text(head):
                raise FileTypeRejected(
                    f"The file {shown!r} is declared as {declared!r} but contains binary "
                    "data. Upload a text file, or declare its real type."
                )
            if declared == "image/svg+xml" and b"<svg" not in head.lower():
                raise FileTypeRejected(
                    f"The file {shown!r} is declared as {declared!r} but has no <svg> element "
                    "at its start."
                )
            effective = declared
        if not self.type_allowed(effective):
            raise FileTypeRejected(
                f"The file {shown!r} is {effective!r}; this upload accepts {self._types_text()}."
            )
        return effective

    def _types_text(self) -> str:
        return _listing(self.allowed_types or ())


def _listing(items: t.Iterable[str]) -> str:
    ordered = sorted(items)
    return ", ".join(repr(i) for i in ordered) if ordered else "nothing"


# -- the record ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StoredFile:
    """What the app keeps about one stored file (small enough for any Datastore entity).

    ``checksum`` is the base64 value Cloud Storage reports for ``checksum_algorithm``
    (``crc32c`` or ``md5``); it was verified against the bytes the app sent, where the
    app saw them. ``original_filename`` is sanitised and only ever used as metadata.
    """

    bucket: str
    name: str
    size: int
    content_type: str
    checksum_algorithm: str
    checksum: str
    original_filename: str
    generation: int | None = None
    field: str | None = None

    @property
    def url(self) -> str:
        """``gs://bucket/name``."""
        return f"gs://{self.bucket}/{self.name}"

    def to_dict(self) -> dict[str, t.Any]:
        """The fields as a plain dict (for JSON, or ``Model(**record.to_dict())``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> StoredFile:
        """Rebuild a record from :meth:`to_dict` output (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
