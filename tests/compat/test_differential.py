"""Differential test: one scripted visit, replayed on Flask and on framework, must look the
same on the wire.

Both apps are fresh instances of the same source (``porting.py``) with the same config,
the same SECRET_KEY and the same seeded database. After every request the status line,
the headers (all but ``Date``) and the body must be identical. Set-Cookie headers are
compared by cookie name, attributes and (unsigned) value; a signed session cookie carries a
timestamp, so instead of its raw value the decoded session contents are compared, after
every step, from the cookie each client holds.
"""

from __future__ import annotations

import importlib
import typing as t
from pathlib import Path

import pytest

from . import porting
from .conftest import USERS, make_app


class Step(t.NamedTuple):
    method: str
    path: str
    kwargs: dict[str, t.Any] = {}

    def send(self, client: t.Any) -> t.Any:
        return client.open(self.path, method=self.method, **self.kwargs)


def _get(path: str, **kwargs: t.Any) -> Step:
    return Step("GET", path, kwargs)


def _post(path: str, **kwargs: t.Any) -> Step:
    return Step("POST", path, kwargs)


ALICE = {"username": "alice", "password": USERS["alice"]}

SCRIPT: list[Step] = [
    _get("/"),
    _get("/hello"),
    _get("/static/style.css"),
    _get("/auth/register"),
    _post("/auth/register", data={"username": "", "password": ""}),
    _post("/auth/register", data={"username": "alice", "password": "again"}),
    _post("/auth/login", data={"username": "alice", "password": "nope"}),
    _get("/create"),
    _get("/auth/login?next=%2Fcreate"),
    _post("/auth/login?next=%2Fcreate", data={**ALICE, "remember": "1"}),
    _get("/create"),
    _post("/create", data={"title": "<i>Hi</i>", "body": "<script>alert(1)</script>\nbye"}),
    _post("/create", data={"title": " ", "body": "kept"}),
    _get("/"),
    _get("/4"),
    _get("/4/update"),
    _post("/4/update", data={"title": "Hi again", "body": "plain"}),
    _get("/4"),
    _get("/2/update"),
    _post("/2/delete"),
    _get("/9"),
    _get("/1/delete"),
    _post("/3/delete"),
    _get("/posts.json"),
    _get("/posts.json", query_string={"format": "list"}),
    _get("/authors/alice.json"),
    _get("/authors/zed.json"),
    _get("/api/posts"),
    _get("/api/posts/1"),
    Step("HEAD", "/api/posts/1"),
    Step("OPTIONS", "/api/posts"),
    _post("/api/posts", json={"title": "Caf\u00e9 via API", "body": "\u2615"}),
    _post("/api/posts", json={"body": "untitled"}),
    _post("/api/posts", data="{broken", content_type="application/json"),
    _post("/api/posts", data={"title": "form"}),
    Step("PUT", "/api/posts/5", {"json": {"title": "Edited via API"}}),
    Step("PUT", "/api/posts/2", {"json": {"title": "not mine"}}),
    Step("PATCH", "/api/posts/1"),
    Step("DELETE", "/api/posts"),
    Step("DELETE", "/api/posts/5"),
    _get("/api/posts/5"),
    _get("/api/nowhere"),
    _get("/export.csv"),
    _get("/export.csv", query_string={"sep": "ab"}),
    _get("/downloads/notes.txt"),
    _get("/downloads/sample.csv", headers={"Range": "bytes=3-6"}),
    _get("/downloads/../__init__.py"),
    _get("/downloads//etc/passwd"),
    _get("/no/such/page"),
    _get("/boom"),
    _get("/about"),
    _get("/u/alice/"),
    _get("/u/bob/card"),
    _get("/u/alice/stats.json"),
    _get("/u/alice/titles.txt"),
    _get("/u/alice/feed"),
    _get("/u/bob/teapot"),
    _get("/u/zed/"),
    _get("/auth/logout"),
    _get("/"),
    _post("/api/posts", json={"title": "anonymous"}),
    _get("/auth/login"),
    _post("/auth/login", data={"username": "bob", "password": USERS["bob"]}),
    _post("/auth/login", data={"username": "bob", "password": USERS["bob"]}),
    _get("/export.csv", query_string={"sep": ";"}),
    Step("HEAD", "/export.csv"),
    _get("/auth/logout", follow_redirects=True),
]

# What the script is expected to produce (on Flask, hence on both): keeps the script honest.
EXPECTED_STATUS = [
    200, 200, 200, 200, 200, 200, 401, 302, 200, 302,
    200, 302, 200, 200, 200, 200, 302, 200, 403, 403,
    404, 405, 302, 200, 200, 200, 404, 200, 200, 200,
    200, 201, 400, 400, 415, 200, 403, 405, 405, 204,
    404, 404, 200, 400, 200, 206, 404, 308, 404, 500,
    200, 200, 200, 200, 200, 200, 418, 404, 302, 200,
    401, 200, 302, 302, 200, 200, 200,
]  # fmt: skip

_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


def _cookie(header: str, session_name: str) -> tuple[str, str, tuple[str, ...]]:
    """``name=value; Attr; Attr=v`` -> comparable parts (signed and dated values masked)."""
    first, *attrs = (part.strip() for part in header.split(";"))
    name, _, value = first.partition("=")
    if name == session_name and value:
        value = "<signed>"
    masked = []
    for attr in attrs:
        key, sep, val = attr.partition("=")
        if key.lower() == "expires" and val != _EPOCH:
            val = "<date>"
        masked.append(f"{key}{sep}{val}")
    return name, value, tuple(masked)


def _observe(app: t.Any, client: t.Any, step: Step, events: list[str]) -> dict[str, t.Any]:
    name = app.config["SESSION_COOKIE_NAME"]
    events.clear()
    with step.send(client) as response:
        body = response.get_data()
        headers = sorted(
            (key, value)
            for key, value in response.headers.items()
            if key.lower() not in {"date", "set-cookie"}
        )
        cookies = [_cookie(c, name) for c in response.headers.getlist("Set-Cookie")]
        status = response.status
    held = client.get_cookie(name)
    serializer = app.session_interface.get_signing_serializer(app)
    session = None if held is None else serializer.loads(held.value)
    return {
        "status": status,
        "headers": headers,
        "set_cookie": cookies,
        "body": body,
        "session": session,
        "last_user": getattr(client.get_cookie("last_user"), "value", None),
        # What the app saw: templates rendered, flashes, teardown runs, in order.
        "events": list(events),
    }


def _replay(flavour: str, tmp_path: Path) -> list[dict[str, t.Any]]:
    app = make_app(flavour, tmp_path / flavour, PROPAGATE_EXCEPTIONS=False)
    assert type(app).__module__.partition(".")[0] == flavour
    module = importlib.import_module(flavour)
    events: list[str] = []
    app.teardown_request(lambda exc: events.append(f"teardown_request {type(exc).__name__}"))
    app.teardown_appcontext(lambda exc: events.append("teardown_appcontext"))

    def on_template(sender: t.Any, template: t.Any, context: t.Any, **extra: t.Any) -> None:
        events.append(f"template {template.name}")

    def on_flash(sender: t.Any, message: str, category: str, **extra: t.Any) -> None:
        events.append(f"flash {category}: {message}")

    def on_exception(sender: t.Any, exception: Exception, **extra: t.Any) -> None:
        events.append(f"exception {exception!r}")

    client = app.test_client()
    with (
        module.template_rendered.connected_to(on_template, app),
        module.message_flashed.connected_to(on_flash, app),
        module.got_request_exception.connected_to(on_exception, app),
    ):
        return [_observe(app, client, step, events) for step in SCRIPT]


@pytest.fixture(scope="module")
def replays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, t.Any]]]:
    tmp = tmp_path_factory.mktemp("differential")
    return {flavour: _replay(flavour, tmp) for flavour in porting.FLAVOURS}


def test_script_exercises_what_it_claims(replays: dict[str, list[dict[str, t.Any]]]) -> None:
    flask_run = replays["flask"]
    assert [int(r["status"].split()[0]) for r in flask_run] == EXPECTED_STATUS
    assert len(SCRIPT) >= 30
    # The visit logs in, flashes, sets the remember-me cookie and ends logged out.
    assert flask_run[9]["session"]["user_id"] == 1
    assert flask_run[9]["last_user"] == "alice"
    assert flask_run[-1]["session"] is None or "user_id" not in flask_run[-1]["session"]
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;<br>" in flask_run[14]["body"]
    by_path = {(s.method, s.path): r for s, r in zip(SCRIPT, flask_run, strict=True)}
    assert by_path["GET", "/boom"]["events"][0] == "exception RuntimeError('the oven caught fire')"
    # Streams tear down when the view returns and again when the stream ends.
    assert by_path["GET", "/u/alice/feed"]["events"] == [
        "teardown_request NoneType",
        "teardown_appcontext",
        "template profiles/feed.txt",
        "teardown_request NoneType",
        "teardown_appcontext",
    ]


@pytest.mark.parametrize("index", range(len(SCRIPT)), ids=[f"{s.method} {s.path}" for s in SCRIPT])
def test_same_response(replays: dict[str, list[dict[str, t.Any]]], index: int) -> None:
    ours, theirs = replays["framework"][index], replays["flask"][index]
    differing = {key: (ours[key], theirs[key]) for key in ours if ours[key] != theirs[key]}
    assert not differing, f"framework vs flask after {SCRIPT[index]}: {differing}"


def test_cookie_masking_keeps_what_matters() -> None:
    header = "session=eyJ.abc.def; Expires=Mon, 01 Jan 2035 10:00:00 GMT; HttpOnly; Path=/"
    assert _cookie(header, "session") == (
        "session",
        "<signed>",
        ("Expires=<date>", "HttpOnly", "Path=/"),
    )
    deleted = f"session=; Expires={_EPOCH}; Max-Age=0; HttpOnly; Path=/"
    assert _cookie(deleted, "session") == (
        "session",
        "",
        (f"Expires={_EPOCH}", "Max-Age=0", "HttpOnly", "Path=/"),
    )
    assert _cookie("last_user=alice; SameSite=Lax", "session")[1] == "alice"
