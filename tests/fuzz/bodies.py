"""Hypothesis strategies for request bodies: JSON, urlencoded and multipart, each usually
close to what a view expects and then broken in one way (see :mod:`.strategies`)."""

from __future__ import annotations

import json
import typing as t

from hypothesis import strategies as st

from .parts import PERCENT_ODDITIES, latin1_text, percent, segment

#: Lone UTF-16 surrogates: JSON can carry them (``"\ud800"``), Python's parser accepts
#: them, and no UTF-8 encoder, Datastore or Cloud Storage call can use them.
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
lone_surrogate_text = st.tuples(
    st.text(max_size=5), st.sampled_from(SURROGATES), st.text(max_size=5)
).map("".join)

#: JSON tokens Python's parser reads as numbers no field can hold (non-finite floats), and
#: escapes that decode to lone surrogates or (the last) to one valid character.
RAW_JSON_VALUES = [
    "Infinity",
    "-Infinity",
    "NaN",
    "1e400",
    "-1e400",
    "1.7976931348623159e308",
    '"\\ud800"',
    '"a\\udfffb"',
    '"x.\\udbff"',
    '"\\udc00\\ud800"',
    '"\\ud83d\\ude00"',
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | lone_surrogate_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def json_body(draw: st.DrawFn, fields: dict[str, t.Any] | None = None) -> bytes:
    if fields and draw(st.booleans()):
        # The object a view expects, one member given a hostile (or wrongly typed) value:
        # any JSON value, or a raw token json.dumps would not write (1e400, lone escapes).
        value = dict(fields)
        name = draw(st.sampled_from([*sorted(value), "extra"]))
        if draw(st.integers(0, 2)) == 0:
            value[name] = "\x00raw\x00"
            raw = draw(st.sampled_from(RAW_JSON_VALUES))
            return json.dumps(value).replace('"\\u0000raw\\u0000"', raw).encode()
        if draw(st.integers(0, 5)) == 0:
            value[draw(lone_surrogate_text)] = value.pop(name, 1)  # in a member's name
        else:
            value[name] = draw(json_values)
        return json.dumps(value).encode()
    kind = draw(st.integers(0, 11))
    if kind <= 2:
        return json.dumps(draw(json_values)).encode()
    if kind == 3:
        depth = draw(st.sampled_from([100, 1000, 5000, 100_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        inner = "1" if opener.startswith("{") else ""
        return (opener * depth + inner + closer * depth).encode()
    if kind == 4:
        digits = draw(st.integers(1, 20_000))
        number = draw(
            st.sampled_from(["1" * digits, "-" + "9" * digits, f"1e{digits}", f"0.{'0' * digits}1"])
        )
        if fields:
            return (json.dumps(fields)[:-1] + f', "n": {number}}}').encode()
        return number.encode()
    if kind == 5:
        return draw(
            st.sampled_from([b"NaN", b"-Infinity", b"[1e999]", b'{"a": NaN}', b'"\\ud800"'])
        )
    if kind == 6:
        text = json.dumps(draw(json_values)).encode()
        cut = draw(st.integers(0, max(len(text) - 1, 0)))
        return text[:cut]  # truncated
    if kind == 7:
        return draw(st.binary(max_size=64))
    if kind == 8:
        value = json.dumps(fields or draw(json_values))
        return value.encode(
            draw(st.sampled_from(["utf-16", "utf-32", "utf-8-sig", "latin-1"])), "replace"
        )
    if kind == 9:
        return b'{"title": "\xff\xfe", "text": "\xc3"}'
    if kind == 10:
        return json.dumps({"k" * 10: "v" * draw(st.integers(10_000, 300_000))}).encode()
    return b'{"a": 1, "a": 2, "__proto__": {"x": 1}}'


field_value = st.one_of(
    segment(),
    st.sampled_from(PERCENT_ODDITIES),
    st.binary(max_size=30),
    st.text(max_size=30).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.integers(0, 20_000).map(lambda n: b"y" * n),
)


def _form_pairs(fields: dict[str, str] | None) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    names = [n.encode() for n in (fields or {})] or [b"a"]
    return st.lists(
        st.tuples(
            st.one_of(st.sampled_from(names), st.binary(max_size=10)),
            st.one_of(segment(), st.binary(max_size=30), st.sampled_from(PERCENT_ODDITIES)),
        ),
        max_size=6,
    )


@st.composite
def urlencoded_body(draw: st.DrawFn, fields: dict[str, str] | None = None) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        count = draw(st.integers(500, 20_000))
        return b"&".join(b"f%d=%d" % (i, i) for i in range(count))
    if kind == 1:
        return b"a=" + b"x" * draw(st.integers(100_000, 1_200_000))
    if fields and kind <= 5:
        # The fields a view expects, one of them given a hostile value.
        pairs = [(k.encode(), v.encode()) for k, v in fields.items()]
        index = draw(st.integers(0, len(pairs) - 1))
        pairs[index] = (pairs[index][0], draw(field_value))
    else:
        pairs = draw(_form_pairs(fields))
    encode = draw(st.booleans())
    return b"&".join(
        (percent(k) + b"=" + percent(v)) if encode else (k + b"=" + v) for k, v in pairs
    )


BOUNDARIES = [
    "fuzzBoundary123",
    "b",
    "-",
    "x" * 71,
    "x" * 300,
    "a b",
    '"q"',
    "é",
    "",
    "---",
    "\r\n",
]


@st.composite
def multipart_body(draw: st.DrawFn, fields: dict[str, str] | None = None) -> tuple[str, bytes]:
    """``(content_type, body)``: usually well-formed parts, then broken in one way."""
    boundary = draw(st.sampled_from(BOUNDARIES[:1] * 6 + BOUNDARIES))
    bb = boundary.encode("utf-8")
    newline = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    parts: list[bytes] = []
    if draw(st.integers(0, 9)) == 0:
        count = draw(st.integers(100, 3000))  # huge field counts
        for i in range(count):
            parts.append(
                b'Content-Disposition: form-data; name="f%d"' % i + newline + newline + b"v"
            )
    else:
        items = []
        if fields and draw(st.integers(0, 3)) != 0:
            items += [(k, None, v.encode(), None) for k, v in fields.items()]
            index = draw(st.integers(0, len(items) - 1))
            items[index] = (*items[index][:2], draw(field_value), None)
        items += draw(
            st.lists(
                st.tuples(
                    st.one_of(st.sampled_from([*(fields or {}), "file", "upload"]), latin1_text),
                    st.one_of(
                        st.none(),
                        st.sampled_from(
                            [
                                "a.txt",
                                "../../etc/passwd",
                                "C:\\x\\y.png",
                                "",
                                "a\r\nb",
                                "é.pdf",
                                "x" * 600,
                            ]
                        ),
                        latin1_text,
                    ),
                    st.one_of(
                        st.binary(max_size=64),
                        st.sampled_from(
                            [b"\x89PNG\r\n\x1a\n" + b"\0" * 20, b"%PDF-1.4", b"MZ\x90\x00"]
                        ),
                        st.integers(1, 300_000).map(lambda n: b"z" * n),
                    ),
                    st.one_of(
                        st.none(),
                        st.sampled_from(
                            ["text/plain", "image/png", "application/pdf", "x", "", "a/b; c"]
                        ),
                    ),
                ),
                max_size=4,
            )
        )
        for name, filename, content, ctype in items:
            head = [
                b'Content-Disposition: form-data; name="' + name.encode("utf-8", "replace") + b'"'
            ]
            if filename is not None:
                head[0] += b'; filename="' + filename.encode("utf-8", "replace") + b'"'
            if ctype is not None:
                head.append(b"Content-Type: " + ctype.encode())
            mode = draw(st.integers(0, 19))
            if mode == 0:
                head = []  # a part without headers
            elif mode == 1:
                head.append(b"no colon here")
            elif mode == 2:
                head = [b"Content-Disposition: attachment"]
            elif mode == 3:
                head.append(b"X-Long: " + b"h" * 10_000)
            parts.append(newline.join(head) + newline + newline + content)
    delimiter = b"--" + bb
    body = b"".join(delimiter + newline + part + newline for part in parts)
    ending = draw(st.integers(0, 7))
    if ending <= 3:
        body += delimiter + b"--" + newline
    elif ending == 4:
        pass  # no closing delimiter
    elif ending == 5:
        body = body[: draw(st.integers(0, max(len(body) - 1, 0)))]  # truncated
    elif ending == 6:
        body = b"preamble" + newline + body + delimiter + b"--" + newline + b"epilogue"
    else:
        body = body.replace(bb, b"other", 1) + delimiter + b"--"
    declared = draw(st.integers(0, 9))
    if declared <= 5:
        ctype = f"multipart/form-data; boundary={boundary}"
    elif declared == 6:
        ctype = f'multipart/form-data; boundary="{boundary}"'
    elif declared == 7:
        ctype = "multipart/form-data"
    elif declared == 8:
        ctype = "multipart/form-data; boundary=wrong"
    else:
        ctype = "multipart/mixed; boundary=" + boundary
    return ctype, body


@st.composite
def body_and_type(
    draw: st.DrawFn, fields: dict[str, str] | None = None
) -> tuple[str | None, bytes]:
    kind = draw(st.integers(0, 9))
    if kind <= 2:
        ctype = draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/json; charset=utf-8",
                    "application/json; charset=bogus",
                    "application/vnd.api+json",
                    "text/json",
                    "application/json;;",
                ]
            )
        )
        return ctype, draw(json_body(fields))
    if kind <= 4:
        ctype = draw(
            st.sampled_from(
                [
                    "application/x-www-form-urlencoded",
                    "application/x-www-form-urlencoded; charset=utf-16",
                    "APPLICATION/X-WWW-FORM-URLENCODED",
                ]
            )
        )
        return ctype, draw(urlencoded_body(fields))
    if kind <= 7:
        return draw(multipart_body(fields))
    if kind == 8:
        return draw(st.one_of(st.none(), latin1_text)), draw(st.binary(max_size=200))
    return None, b""


def json_bodies(
    fields: dict[str, t.Any] | None = None,
) -> st.SearchStrategy[tuple[str | None, bytes]]:
    """``(content_type, body)`` pairs aimed at JSON endpoints."""
    return st.tuples(
        st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]),
        json_body(fields),
    )


def form_bodies(
    fields: dict[str, str] | None = None,
) -> st.SearchStrategy[tuple[str | None, bytes]]:
    """``(content_type, body)`` pairs aimed at form endpoints (urlencoded and multipart)."""
    return st.one_of(
        urlencoded_body(fields).map(lambda b: ("application/x-www-form-urlencoded", b)),
        multipart_body(fields),
    )
