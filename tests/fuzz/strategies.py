"""Hypothesis strategies for malformed HTTP requests, as :class:`~tests.fuzz.harness.RawRequest`.

Every part of a request is drawn from a mix of well-formed values (so requests get past
routing and reach the views) and hostile ones: odd percent-encodings and invalid UTF-8 in
paths and query strings; huge, duplicated and CR/LF-carrying headers; random, truncated,
tampered and oversized cookies (:mod:`.parts`); invalid, deeply nested and huge-number
JSON; urlencoded and multipart bodies with malformed boundaries, missing parts and huge
field counts (:mod:`.bodies`); and a Content-Length that lies.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from hypothesis import strategies as st

from .bodies import body_and_type, form_bodies, json_bodies
from .harness import RawRequest
from .parts import (
    CONTENT_LENGTHS,
    METHODS,
    ODD_METHODS,
    Cookies,
    cookie_header,
    headers,
    path,
    query_string,
)

__all__ = ["Cookies", "Target", "body_and_type", "form_bodies", "json_bodies", "requests"]


@dataclass
class Target:
    """What the request strategy knows about the app under test."""

    paths: list[bytes]
    query_names: list[str] = field(default_factory=list)
    cookies: Cookies = field(default_factory=Cookies)
    #: Headers that let a request through (e.g. a CSRF token), sent half the time.
    good_headers: list[tuple[str, str]] = field(default_factory=list)
    #: Form or JSON fields that let a request through, mixed into bodies.
    fields: dict[str, str] = field(default_factory=dict)


@st.composite
def requests(
    draw: st.DrawFn,
    target: Target,
    *,
    methods: t.Sequence[str] | None = None,
    bodies: st.SearchStrategy[tuple[str | None, bytes]] | None = None,
    exact_paths: int = 6,
) -> RawRequest:
    """A request for ``target``: each part independently well-formed or hostile.

    ``methods`` and ``bodies`` narrow the draw (a test aimed at JSON bodies, say), and a
    larger ``exact_paths`` sends more requests to the known routes as they are; the rest of
    the request is still drawn in full.
    """
    if methods is not None:
        method = draw(st.sampled_from(methods))
    else:
        method = draw(st.sampled_from(METHODS))
        if draw(st.integers(0, 9)) == 0:
            method = draw(st.sampled_from(ODD_METHODS))
    raw = RawRequest(method=method)
    raw.path = draw(path(target.paths, exact_paths))
    raw.query = draw(query_string(target.query_names)) if draw(st.booleans()) else b""
    raw.headers = draw(headers())
    if target.good_headers and draw(st.booleans()):
        raw.headers = [*target.good_headers, *raw.headers]
    cookie = draw(cookie_header(target.cookies))
    if cookie is not None:
        raw.headers.append(("Cookie", cookie))
    if (
        bodies is not None
        or method in {"POST", "PUT", "PATCH", "DELETE"}
        or draw(st.integers(0, 4)) == 0
    ):
        ctype, raw.body = draw(bodies if bodies is not None else body_and_type(target.fields))
        if ctype is not None:
            raw.headers.append(("Content-Type", ctype))
    lie = draw(st.integers(0, 15))
    if lie == 0:
        raw.content_length = str(len(raw.body) + draw(st.integers(1, 10_000)))  # bigger
    elif lie == 1 and raw.body:
        raw.content_length = str(draw(st.integers(0, len(raw.body) - 1)))  # smaller
    elif lie == 2:
        raw.content_length = draw(st.sampled_from([*CONTENT_LENGTHS, ""]))
    elif lie == 3:
        raw.chunked = True
    return raw
