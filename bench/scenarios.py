"""Benchmark scenarios: the same small app built on ``flask`` or on ``framework``.

A scenario is a function ``build(flask_module) -> (app, RequestSpec)``. It receives the module
(``flask`` or ``framework``) and builds its app from that module's public names only, so the
identical app code runs on both. The ``RequestSpec`` describes the one request the benchmark
repeats and the response every framework must give before it is timed.

To add a scenario, write a ``build`` function and decorate it with ``@scenario("name")``.
Views are registered with ``app.add_url_rule`` rather than the ``@app.route`` decorator only
because the module is typed loosely (``Any``) and mypy --strict rejects untyped decorators;
both register the same rule.

This module imports nothing outside the standard library at import time: the cold-start child
imports it before its timer starts, and must not pre-load werkzeug on the framework's behalf.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class RequestSpec:
    """One request to replay, and what a correct response looks like."""

    path: str
    method: str = "GET"
    #: Raw request body (sent with ``content_type``), or None for no body.
    data: bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    expect_status: int = 200
    #: Exact expected body, if set.
    expect_body: bytes | None = None
    #: A substring the body must contain, if set.
    expect_contains: bytes | None = None
    #: Expected decoded JSON body, if set (compared as data, not bytes, so whitespace is free).
    expect_json: object = None
    #: The Content-Type header must start with this, if set.
    expect_content_type: str | None = None
    #: If set, the response must set a cookie of this name to a non-empty value.
    expect_set_cookie: str | None = None
    #: If true, the response must not set (or delete) any cookie.
    expect_no_set_cookie: bool = False

    def problems(self, status: int, headers: list[tuple[str, str]], body: bytes) -> list[str]:
        """Return sentences describing how a response differs from this spec (empty if OK)."""
        found: list[str] = []
        content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
        set_cookies = [v for k, v in headers if k.lower() == "set-cookie"]
        if status != self.expect_status:
            found.append(f"status {status}, expected {self.expect_status}")
        if self.expect_body is not None and body != self.expect_body:
            found.append(f"body {body[:200]!r}, expected {self.expect_body!r}")
        if self.expect_contains is not None and self.expect_contains not in body:
            found.append(f"body {body[:200]!r} does not contain {self.expect_contains!r}")
        if self.expect_json is not None:
            try:
                decoded: object = json.loads(body)
            except ValueError:
                found.append(f"body {body[:200]!r} is not JSON")
            else:
                if decoded != self.expect_json:
                    found.append(f"JSON {decoded!r}, expected {self.expect_json!r}")
        if self.expect_content_type is not None and not (content_type or "").startswith(
            self.expect_content_type
        ):
            found.append(
                f"Content-Type {content_type!r}, expected it to start with "
                f"{self.expect_content_type!r}"
            )
        if self.expect_set_cookie is not None:
            prefix = f"{self.expect_set_cookie}="
            values = [
                c[len(prefix) :].split(";", 1)[0] for c in set_cookies if c.startswith(prefix)
            ]
            if not any(values):
                found.append(
                    f"no Set-Cookie header sets {self.expect_set_cookie!r} (Set-Cookie "
                    f"headers: {set_cookies!r})"
                )
        if self.expect_no_set_cookie and set_cookies:
            found.append(f"unexpected Set-Cookie headers {set_cookies!r}")
        return found


#: A scenario builder: takes ``flask`` or ``framework``, returns (WSGI app, request spec).
Builder = Callable[[ModuleType], tuple[Any, RequestSpec]]

#: All scenarios, in the order they are run and reported.
SCENARIOS: dict[str, Builder] = {}


def scenario(name: str) -> Callable[[Builder], Builder]:
    """Register ``build`` under ``name`` (run and reported in registration order)."""

    def register(build: Builder) -> Builder:
        if name in SCENARIOS:
            raise ValueError(f"Scenario {name!r} is registered twice; give it a unique name.")
        SCENARIOS[name] = build
        return build

    return register


@scenario("hello")
def build_hello(fm: ModuleType) -> tuple[Any, RequestSpec]:
    """``GET /`` returns a plain string."""
    app = fm.Flask("bench_hello")

    def index() -> str:
        return "Hello World!"

    app.add_url_rule("/", view_func=index)

    return app, RequestSpec(
        "/", expect_body=b"Hello World!", expect_content_type="text/html; charset=utf-8"
    )


@scenario("json")
def build_json(fm: ModuleType) -> tuple[Any, RequestSpec]:
    """``GET /user/<int:id>`` returns a dict, serialised to JSON by the framework."""
    app = fm.Flask("bench_json")

    def user(user_id: int) -> dict[str, object]:
        return {"id": user_id, "name": f"user{user_id}", "active": True, "roles": ["a", "b"]}

    app.add_url_rule("/user/<int:user_id>", view_func=user)

    expected = {"id": 42, "name": "user42", "active": True, "roles": ["a", "b"]}
    return app, RequestSpec(
        "/user/42", expect_json=expected, expect_content_type="application/json"
    )


@scenario("form")
def build_form(fm: ModuleType) -> tuple[Any, RequestSpec]:
    """``POST /form`` with an urlencoded body; the view reads ``request.form``."""
    app = fm.Flask("bench_form")
    request = fm.request

    def form() -> str:
        f = request.form
        return f"{f['name']} <{f['email']}> {f['age']} {f['city']} {f['note']}"

    app.add_url_rule("/form", view_func=form, methods=["POST"])

    body = b"name=Ada+Lovelace&email=ada%40example.com&age=36&city=London&note=a%26b%3Dc"
    return app, RequestSpec(
        "/form",
        method="POST",
        data=body,
        content_type="application/x-www-form-urlencoded",
        expect_body=b"Ada Lovelace <ada@example.com> 36 London a&b=c",
    )


@scenario("404")
def build_404(fm: ModuleType) -> tuple[Any, RequestSpec]:
    """50 routes ``/r0/<name>`` .. ``/r49/<name>``; a GET to a path matching none of them."""
    app = fm.Flask("bench_404")

    def make_view(i: int) -> Callable[[str], str]:
        def view(name: str) -> str:
            return f"route {i}: {name}"

        return view

    for i in range(50):
        app.add_url_rule(f"/r{i}/<name>", endpoint=f"r{i}", view_func=make_view(i))

    return app, RequestSpec("/nowhere/to/be/found", expect_status=404, expect_contains=b"Not Found")


#: The folder of the ``template`` scenario's Jinja templates (absolute, so the app's root
#: path does not matter).
TEMPLATES = Path(__file__).resolve().with_name("templates")

#: What the catalogue page lists: 20 items whose names and tags need escaping.
CATALOGUE: tuple[dict[str, object], ...] = tuple(
    {
        "id": i,
        "name": f"Widget <{i}> & Co",
        "price": i * 1.255,
        "tags": ("new" if i % 2 else "sale", "<b>bold</b>", "a&b"),
    }
    for i in range(1, 21)
)


def _escape(text: str) -> str:
    """HTML-escape ``text`` the way markupsafe does (the template's autoescaping)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


def _expected_catalogue(title: str, footer: str) -> bytes:
    """The page ``catalogue.html`` must render, written out independently of Jinja."""
    rows = []
    for n, item in enumerate(CATALOGUE):
        name, price, tags = str(item["name"]), float(str(item["price"])), item["tags"]
        assert isinstance(tags, tuple)
        rows.append(
            f'<li class="{"odd" if n % 2 == 0 else "even"}">'
            f'<a href="/item/{item["id"]}">{_escape(name)}</a> {round(price, 2)} '
            f"{', '.join(_escape(tag) for tag in tags)}</li>\n"
        )
    t = _escape(title)
    page = (
        "<!doctype html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        f"<title>{t} - Bench Shop</title>\n"
        '<link rel="stylesheet" href="/static/style.css">\n'
        "</head>\n"
        "<body>\n"
        '<nav><a href="/catalogue">Catalogue</a></nav>\n'
        "<main>\n"
        f"\n<h1>{t}</h1>\n<ul>\n\n" + "\n".join(rows) + "\n</ul>\n\n"
        "</main>\n"
        f"<footer>{_escape(footer)}</footer>\n"
        "</body>\n"
        "</html>"
    )
    return page.encode()


@scenario("template")
def build_template(fm: ModuleType) -> tuple[Any, RequestSpec]:
    """``GET /catalogue`` renders ``catalogue.html`` (extends ``layout.html``) from files:
    a loop over 20 items with ``url_for`` per item, autoescaped values and filters.
    """
    app = fm.Flask("bench_template", template_folder=str(TEMPLATES))
    render_template = fm.render_template
    title = 'Catalogue <"spring"> & more'
    footer = "Bench & Sons <est. 2024>"

    def catalogue() -> str:
        page: str = render_template("catalogue.html", title=title, items=CATALOGUE, footer=footer)
        return page

    def item(item_id: int) -> str:
        return f"item {item_id}"

    app.add_url_rule("/catalogue", view_func=catalogue)
    app.add_url_rule("/item/<int:item_id>", view_func=item)

    return app, RequestSpec(
        "/catalogue",
        expect_body=_expected_catalogue(title, footer),
        expect_content_type="text/html; charset=utf-8",
    )


#: The session scenarios' signing key: the same for both frameworks.
SESSION_SECRET_KEY = "bench-session-secret-key-0123456789abcdef"


def _session_app(fm: ModuleType, name: str) -> tuple[Any, str]:
    """An app with ``/login`` (fills the session), ``/count`` (reads it and writes a counter
    back) and ``/plain`` (never touches it), and a session cookie that this framework
    created at ``/login`` through its own test client.

    The cookie is checked to round-trip before it is used: two ``/count`` requests through
    the test client must read the name and count 1 then 2.
    """
    app = fm.Flask(name)
    app.config["SECRET_KEY"] = SESSION_SECRET_KEY
    session = fm.session

    def login() -> str:
        session["user_id"] = 42
        session["name"] = "Ada"
        session["csrf"] = "5f0c3b2a9d8e7f6a5b4c3d2e1f0a9b8c"
        session["n"] = 0
        return "logged in"

    def count() -> str:
        session["n"] = session.get("n", 0) + 1
        return f"{session['name']} {session['n']}"

    def plain() -> str:
        return "no session here"

    app.add_url_rule("/login", view_func=login)
    app.add_url_rule("/count", view_func=count)
    app.add_url_rule("/plain", view_func=plain)

    client = app.test_client()
    client.get("/login")
    cookie = client.get_cookie("session")
    if cookie is None or not cookie.value:
        raise RuntimeError("GET /login through the test client set no 'session' cookie.")
    value = str(cookie.value)
    for expected in (b"Ada 1", b"Ada 2"):
        body = client.get("/count").data
        if body != expected:
            raise RuntimeError(
                f"The session cookie did not round-trip: GET /count gave {body!r}, "
                f"expected {expected!r}."
            )
    return app, value


@scenario("session")
def build_session(fm: ModuleType) -> tuple[Any, RequestSpec]:
    """``GET /count`` with a valid session cookie: the view reads the session and writes a
    counter back, so each request verifies, deserialises, serialises and signs.
    """
    app, cookie = _session_app(fm, "bench_session")
    return app, RequestSpec(
        "/count",
        headers={"Cookie": f"session={cookie}"},
        expect_body=b"Ada 1",
        expect_set_cookie="session",
    )


@scenario("session-untouched")
def build_session_untouched(fm: ModuleType) -> tuple[Any, RequestSpec]:
    """``GET /plain`` with a valid session cookie to a view that never uses the session:
    the cost of a session nobody reads.
    """
    app, cookie = _session_app(fm, "bench_session_untouched")
    return app, RequestSpec(
        "/plain",
        headers={"Cookie": f"session={cookie}"},
        expect_body=b"no session here",
        expect_no_set_cookie=True,
    )
