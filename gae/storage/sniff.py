"""What a file really is, from its first bytes (part of :mod:`gae.storage`).

Browsers declare a type from the file's extension, and a client can declare anything; the
first bytes of most binary formats are fixed. :func:`sniff` recognises the common ones so
an upload declared ``image/png`` must start like a PNG, and an upload declared as text or
as something else cannot be a PNG, a ZIP or an executable in disguise.
"""

from __future__ import annotations

import re
import typing as t

#: How many leading bytes are inspected to tell what a file really is.
SNIFF_BYTES = 512

# -- signatures ------------------------------------------------------------------------------

_ISO_BMFF_BRANDS = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
}


def _pe(head: bytes) -> bool:
    # "MZ" alone is two letters a text file may start with; a real executable points
    # at a "PE\0\0" header from offset 0x3c.
    if not head.startswith(b"MZ") or len(head) < 0x40:
        return False
    offset = int.from_bytes(head[0x3C:0x40], "little")
    return head[offset : offset + 4] == b"PE\0\0" if offset + 4 <= len(head) else True


# (family, canonical type, test). Families group the types one container format covers.
_SIGNATURES: tuple[tuple[str, str, t.Callable[[bytes], bool]], ...] = (
    ("png", "image/png", lambda h: h.startswith(b"\x89PNG\r\n\x1a\n")),
    ("jpeg", "image/jpeg", lambda h: h.startswith(b"\xff\xd8\xff")),
    ("gif", "image/gif", lambda h: h[:6] in {b"GIF87a", b"GIF89a"}),
    ("webp", "image/webp", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP"),
    ("wav", "audio/wav", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WAVE"),
    ("avi", "video/x-msvideo", lambda h: h[:4] == b"RIFF" and h[8:12] == b"AVI "),
    ("bmp", "image/bmp", lambda h: h[:2] == b"BM" and h[6:10] == b"\0\0\0\0"),
    ("tiff", "image/tiff", lambda h: h[:4] in {b"II*\0", b"MM\0*"}),
    ("isobmff", "video/mp4", lambda h: h[4:8] == b"ftyp"),
    ("pdf", "application/pdf", lambda h: h.startswith(b"%PDF-")),
    ("zip", "application/zip", lambda h: h[:4] in {b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"}),
    ("gzip", "application/gzip", lambda h: h.startswith(b"\x1f\x8b\x08")),
    ("7z", "application/x-7z-compressed", lambda h: h.startswith(b"7z\xbc\xaf\x27\x1c")),
    ("rar", "application/vnd.rar", lambda h: h.startswith(b"Rar!\x1a\x07")),
    ("bzip2", "application/x-bzip2", lambda h: re.match(rb"BZh[1-9]1AY&SY", h) is not None),
    ("mp3", "audio/mpeg", lambda h: h[:3] == b"ID3" or h[:2] in {b"\xff\xfb", b"\xff\xf3"}),
    ("ogg", "audio/ogg", lambda h: h.startswith(b"OggS")),
    ("flac", "audio/flac", lambda h: h.startswith(b"fLaC")),
    ("matroska", "video/webm", lambda h: h.startswith(b"\x1a\x45\xdf\xa3")),
    ("exe", "application/vnd.microsoft.portable-executable", _pe),
    ("elf", "application/x-executable", lambda h: h.startswith(b"\x7fELF")),
    ("wasm", "application/wasm", lambda h: h.startswith(b"\0asm")),
    ("sqlite", "application/vnd.sqlite3", lambda h: h.startswith(b"SQLite format 3\0")),
    ("woff", "font/woff", lambda h: h.startswith(b"wOFF")),
    ("woff2", "font/woff2", lambda h: h.startswith(b"wOF2")),
)

# Declared types that must start with a known signature, and the family it must be.
DECLARED_FAMILY: dict[str, str] = {
    **{canonical: family for family, canonical, _ in _SIGNATURES},
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/x-png": "png",
    "audio/wave": "wav",
    "audio/x-wav": "wav",
    "image/x-ms-bmp": "bmp",
    "image/avif": "isobmff",
    "image/heic": "isobmff",
    "image/heif": "isobmff",
    "video/quicktime": "isobmff",
    "video/3gpp": "isobmff",
    "video/x-m4v": "isobmff",
    "audio/mp4": "isobmff",
    "audio/x-m4a": "isobmff",
    "application/x-zip-compressed": "zip",
    "application/epub+zip": "zip",
    "application/java-archive": "zip",
    "application/x-gzip": "gzip",
    "application/x-rar-compressed": "rar",
    "audio/mp3": "mp3",
    "audio/webm": "matroska",
    "video/x-matroska": "matroska",
    "application/x-msdownload": "exe",
    "application/x-sqlite3": "sqlite",
}
for _zip_based in (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
):
    DECLARED_FAMILY[_zip_based] = "zip"

_TEXTUAL_APPLICATION = {
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-ndjson",
    "application/csv",
    "application/x-yaml",
    "application/yaml",
}


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(family, type)`` of a known binary format the bytes start with, else ``None``."""
    for family, canonical, test in _SIGNATURES:
        if test(head):
            if family == "isobmff":
                return family, _ISO_BMFF_BRANDS.get(head[8:12], canonical)
            return family, canonical
    return None


def is_textual(mimetype: str) -> bool:
    """Whether a declared type promises text (``text/*``, JSON, XML and the like)."""
    return (
        mimetype.startswith("text/")
        or mimetype in _TEXTUAL_APPLICATION
        or mimetype.endswith(("+json", "+xml"))
    )


_CONTROL = frozenset(range(32)) - {8, 9, 10, 12, 13, 27}


def looks_like_text(head: bytes) -> bool:
    """Whether the bytes look like text: no NUL bytes, few control characters.

    UTF-16 with a byte-order mark counts as text.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\0" in head:
        return False
    if not head:
        return True
    # Bytes are not decoded: legacy 8-bit encodings (cp1252 CSV exports) are text too.
    controls = sum(1 for byte in head if byte in _CONTROL)
    return controls * 100 <= len(head)
