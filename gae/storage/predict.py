"""How long a file part will be, guessed before its end arrives.

Part of :mod:`gae.storage`. Cloud Storage needs an upload request's length before its body,
and a multipart body does not say how long each part is. But browsers, curl and HTTP
libraries put a single file last, followed only by the closing delimiter and a CRLF, so
the request's ``Content-Length`` tells the file's size once the file's position in the
body is known. With that guess a file can go up in one request that is sent while the
browser's request is still being read (see :class:`~gae.storage.resumable.StreamedPut`).

A guess is only ever a guess: the upload holds the request's last byte back until the part
has ended at exactly the guessed size, and starts over from its buffer when it did not.
"""

from __future__ import annotations

#: Bytes compared to place a write's data in the raw body.
_MATCH = 64


def predict_part_size(
    *,
    written: int,
    data: bytes,
    block: bytes,
    bytes_read: int,
    content_length: int | None,
    boundary: bytes | None,
) -> int | None:
    """The part's total size if it is the body's last part; ``None`` when that is unknown.

    ``data`` is the latest write (``written`` bytes of the part so far, including it),
    ``block`` the latest raw read of the body, which ends ``bytes_read`` bytes into it.
    werkzeug's parser keeps back at most a delimiter's length of the block (it could be
    the start of the next boundary), so ``data`` ends within that distance of the block's
    end: matching its last bytes there places it in the body, unless several places match
    (data that repeats itself), when there is no guess.
    """
    if content_length is None or not boundary or len(data) < _MATCH:
        return None
    delimiter = len(b"\r\n--") + len(boundary)
    tail = data[-_MATCH:]
    places = [
        kept
        for kept in range(delimiter + 1)
        if len(block) - kept - _MATCH >= 0
        and block[len(block) - kept - _MATCH : len(block) - kept] == tail
    ]
    if len(places) != 1:
        return None
    data_end = bytes_read - places[0]
    # What follows the last part: "\r\n--" boundary "--" and a CRLF.
    remaining = content_length - data_end - delimiter - len(b"--\r\n")
    return written + remaining if remaining >= 0 else None
