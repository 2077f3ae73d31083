"""Hypothesis strategies for the parts of a request other than its body: method, path,
query string, headers and cookies, each a mix of well-formed and hostile values."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

METHODS = ["GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
ODD_METHODS = ["TRACE", "CONNECT", "PROPFIND", "get", "", "G\x00T", "X" * 300, "POST ", "\xff"]

#: Path segments that have broken path handling somewhere, as raw bytes on the wire.
ODD_SEGMENTS = [
    b"..",
    b".",
    b"",
    b"%2e%2e",
    b"%2E%2E%2F",
    b"%2F",
    b"%252e%252e",
    b"%00",
    b"\x00",
    b"\xff",
    b"\xfe\xff",
    b"\xc0\xaf",
    b"\xc0\xae\xc0\xae",
    b"\xed\xa0\x80",
    b"\xe2\x80\xae",
    b"\xef\xbb\xbf",
    b"..\\",
    b"..\\..\\secret.txt",
    b"\\",
    b"C:",
    b"C:\\Windows",
    b"//",
    b"\r\n",
    b"%0d%0aSet-Cookie:%20x=1",
    b"\r\nLocation: http://evil.example",
    b"~",
    b"a" * 300,
    b"x" * 5000,
    "é".encode(),
    "é".encode("latin-1"),
    "日本".encode(),
    b"%",
    b"%zz",
    b"%e9",
    b";",
    b";jsessionid=1",
    b"?",
    b"#frag",
    b" ",
    b"\t",
    b"etc/passwd",
    b"/etc/passwd",
    b"hello.txt",
    b"1",
    b"-1",
    b"0",
    b"007",
    b"1e3",
    b"99999999999999999999999999",
    b"1.5",
    b"nan",
    b"inf",
    b"-0.0",
    b"\xd9\xa3",  # ARABIC-INDIC DIGIT THREE, a Unicode digit
    b"00000000-0000-0000-0000-000000000000",
    b"0000000000000000000000000000000g",
]

PERCENT_ODDITIES = [b"%", b"%z", b"%zz", b"%%", b"%ff", b"%c3", b"%c3%28", b"%00", b"%0d%0a", b"+"]

#: Header values that mean something to someone (werkzeug, the adapters, the sample app).
HEADER_VALUES: dict[str, list[str]] = {
    "Host": ["", "127.0.0.1", "localhost:99999", "[::1]:8080", "evil.example", "a b", "é", ":"],
    "Accept": ["*/*", "application/json", "text/html;q=0.x", ";;;", "a/b; q=" + "9" * 500],
    "Accept-Encoding": ["gzip", "*;q=0", "identity;q=0"],
    "Accept-Language": ["en", "*;q=nan", "x" * 100],
    "Range": [
        "bytes=0-0",
        "bytes=-1",
        "bytes=5-",
        "bytes=0-1,2-3,4-5",
        "bytes=999999999999999999999999-",
        "bytes=-99999999999999999999999",
        "bytes=2-1",
        "bytes=",
        "items=0-1",
        "bytes=0-" + "9" * 5000,
    ],
    "If-Range": ["abc", '"etag"', "Thu, 01 Jan 1970 00:00:00 GMT"],
    "If-None-Match": ["*", '"x"', 'W/"x", "y"', '"', "x" * 1000],
    "If-Match": ["*", '"x"'],
    "If-Modified-Since": [
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Mon, 32 Foo 0000 99:99:99 GMT",
        "garbage",
        "0",
        "-1",
    ],
    "If-Unmodified-Since": ["Thu, 01 Jan 1970 00:00:00 GMT", "nope"],
    "Authorization": ["Basic ", "Basic !!!", "Basic Zm9vOmJhcg==", "Bearer x", "Digest a=b"],
    "Origin": ["null", "http://evil.example", "http://127.0.0.1:8080"],
    "Referer": ["http://evil.example/", "\xff"],
    "X-Forwarded-For": ["1.2.3.4", "1.2.3.4, 5.6.7.8", "not-an-ip", ""],
    "X-Forwarded-Proto": ["https", "http", "gopher", ""],
    "X-Forwarded-Host": ["evil.example"],
    "X-Appengine-Cron": ["true", "false", "TRUE"],
    "X-AppEngine-QueueName": ["default", "", "q" * 500],
    "X-AppEngine-TaskName": ["t1"],
    "X-AppEngine-TaskRetryCount": ["0", "-1", "\xb2", "9" * 5000, "x"],
    "X-Appengine-User-IP": ["203.0.113.9", "::1", "not-an-ip", "", "\r\n"],
    "X-Appengine-Country": ["ZZ", "NL", ""],
    "X-Cloud-Trace-Context": [
        "0123456789abcdef0123456789abcdef/42;o=1",
        "0123456789abcdef0123456789abcdef/" + "9" * 5000 + ";o=1",
        "0123456789abcdef0123456789abcdef/18446744073709551616",
        "0123456789abcdef0123456789abcdef/;o=2",
        "zz",
    ],
    "Traceparent": [
        "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
        "00-00000000000000000000000000000000-0123456789abcdef-01",
        "00-0123456789abcdef0123456789abcdef-0123456789abcdef-zz",
    ],
    "User-Agent": ["", "x" * 10000, "\x00"],
    "Transfer-Encoding": ["chunked", "gzip, chunked", "identity"],
    "Content-Encoding": ["gzip", "deflate", "br", "x"],
    "Expect": ["100-continue"],
    "Connection": ["close", "keep-alive, Upgrade"],
    "Upgrade": ["websocket"],
    "X-CSRF-Token": ["", "forged", "x" * 5000],
    "X-Requested-With": ["XMLHttpRequest"],
}

CONTENT_LENGTHS = [
    "abc",
    "-1",
    "1e3",
    " 12 ",
    "0x10",
    "99999999999999999999999",
    "\xb2",
    "1,1",
    "+5",
]

latin1_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=40)


def percent(data: bytes) -> bytes:
    return quote_from_bytes(data, safe="").encode("ascii")


@st.composite
def segment(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind <= 1:
        return draw(st.sampled_from(ODD_SEGMENTS))
    if kind == 2:
        return draw(st.binary(max_size=24)).replace(b"/", b"")
    if kind == 3:
        return draw(st.text(max_size=16)).encode("utf-8", "surrogatepass").replace(b"/", b"_")
    if kind == 4:
        return percent(draw(st.binary(max_size=12)))
    return draw(st.from_regex(r"\A[A-Za-z0-9_.-]{1,12}\Z")).encode()


@st.composite
def path(draw: st.DrawFn, known: t.Sequence[bytes], exact: int = 6) -> bytes:
    """A known route (``exact`` times in ``exact + 6``) or one with odd segments appended
    or spliced in, or junk."""
    kind = draw(st.integers(0, exact + 5))
    base = draw(st.sampled_from(known))
    if kind < exact:
        return base
    kind -= exact - 4
    if kind <= 6:
        tail = b"/".join(draw(st.lists(segment(), min_size=1, max_size=4)))
        joined = base.rstrip(b"/") + b"/" + tail
        return joined
    if kind == 7:
        # Replace the last segment of a known route.
        head = base.rstrip(b"/").rpartition(b"/")[0]
        return head + b"/" + draw(segment())
    if kind == 8:
        return b"/" + b"/".join(draw(st.lists(segment(), max_size=5)))
    # Not even a leading slash, or absolute-form.
    return draw(st.sampled_from([b"", b"*", b"http://evil.example/", b"\\\\evil", b"/\\evil"]))


@st.composite
def query_string(draw: st.DrawFn, names: t.Sequence[str] = ()) -> bytes:
    kind = draw(st.integers(0, 19))
    if kind == 0:
        # Huge field counts.
        count = draw(st.integers(500, 5000))
        return b"&".join(b"a=%d" % i for i in range(count))
    if kind == 1:
        return b"q=" + b"x" * draw(st.integers(1000, 100_000))
    name_strategy = st.one_of(
        st.sampled_from([n.encode() for n in names] or [b"a"]),
        st.binary(max_size=8),
        st.sampled_from(PERCENT_ODDITIES),
    )
    value_strategy = st.one_of(
        segment(),
        st.sampled_from(PERCENT_ODDITIES),
        st.binary(max_size=16),
        st.integers(-(10**30), 10**30).map(lambda i: str(i).encode()),
    )
    pairs = draw(st.lists(st.tuples(name_strategy, value_strategy), max_size=6))
    encoded = draw(st.booleans())
    parts = []
    for raw_name, raw_value in pairs:
        name, value = (percent(raw_name), percent(raw_value)) if encoded else (raw_name, raw_value)
        parts.append(name + b"=" + value if draw(st.booleans()) or not encoded else name)
    separator = draw(st.sampled_from([b"&", b"&", b";", b"&&"]))
    return separator.join(parts)


@st.composite
def header_value(draw: st.DrawFn, name: str) -> str:
    kind = draw(st.integers(0, 9))
    known = HEADER_VALUES.get(name)
    if known and kind <= 4:
        return draw(st.sampled_from(known))
    if kind == 5:
        # CR/LF and NUL attempts: response splitting, header smuggling.
        prefix = draw(st.sampled_from(known or ["x"]))
        return prefix + draw(
            st.sampled_from(
                [
                    "\r\nSet-Cookie: injected=1",
                    "\nLocation: //evil.example",
                    "\r",
                    "\x00",
                    "\r\n\r\n<h1>",
                ]
            )
        )
    if kind == 6:
        return "v" * draw(st.integers(4000, 70_000))
    return draw(latin1_text)


HEADER_NAMES = [
    *HEADER_VALUES,
    "X-Custom",
    "Cookie2",
    "Content-MD5",
    "Forwarded",
    "X-HTTP-Method-Override",
]


@st.composite
def headers(draw: st.DrawFn) -> list[tuple[str, str]]:
    names = draw(
        st.lists(
            st.one_of(
                st.sampled_from(HEADER_NAMES),
                st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,20}\Z"),
            ),
            max_size=5,
        )
    )
    out = [(name, draw(header_value(name))) for name in names]
    if out and draw(st.integers(0, 4)) == 0:
        out.append(out[0])  # a duplicated header
    return out


# -- cookies ---------------------------------------------------------------------------


@dataclass
class Cookies:
    """What the cookie strategy knows about the app under test."""

    name: str = "session"
    #: Cookie values the app issued (valid signatures) to mutate.
    valid: list[str] = field(default_factory=list)


def _tamper(value: str, draw: st.DrawFn) -> str:
    if not value:
        return "x"
    how = draw(st.integers(0, 5))
    position = draw(st.integers(0, len(value) - 1))
    if how == 0:
        return value[:position]  # truncated
    if how == 1:
        flipped = "A" if value[position] != "A" else "B"
        return value[:position] + flipped + value[position + 1 :]  # tampered
    if how == 2:
        return value + "x" * draw(st.integers(4000, 20_000))  # oversized
    if how == 3:
        payload, _, rest = value.partition(".")
        return payload[::-1] + "." + rest  # another payload, same signature
    if how == 4:
        return value.replace(".", "")
    return value + "." + value


@st.composite
def cookie_header(draw: st.DrawFn, cookies: Cookies) -> str | None:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return None
    if kind <= 3 and cookies.valid:
        value = draw(st.sampled_from(cookies.valid))
        if kind >= 2:
            value = _tamper(value, draw)
        pairs = [(cookies.name, value)]
    elif kind == 4:
        return draw(latin1_text)
    elif kind == 5:
        return f"{cookies.name}=" + "a" * draw(st.integers(4000, 80_000))
    elif kind == 6:
        count = draw(st.integers(100, 3000))
        return "; ".join(f"c{i}={i}" for i in range(count))
    else:
        pairs = draw(
            st.lists(
                st.tuples(
                    st.one_of(st.just(cookies.name), latin1_text),
                    st.one_of(latin1_text, st.sampled_from(cookies.valid or ["x"])),
                ),
                max_size=4,
            )
        )
    quoted = draw(st.booleans())
    text = "; ".join(f'{n}="{v}"' if quoted else f"{n}={v}" for n, v in pairs)
    if draw(st.integers(0, 4)) == 0:
        text += f"; {cookies.name}={draw(latin1_text)}"  # a second session cookie
    return text
