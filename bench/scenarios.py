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

    def problems(self, status: int, content_type: str | None, body: bytes) -> list[str]:
        """Return sentences describing how a response differs from this spec (empty if OK)."""
        found: list[str] = []
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
