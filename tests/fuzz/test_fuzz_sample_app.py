"""Fuzz the noticeboard (sample_app) with raw, malformed requests, on the real emulators.

Requests come both anonymous and as a logged-in user whose CSRF token is often sent, so
bodies get past the CSRF check and reach the views (attachment uploads included).
Whatever arrives, the answer is below 500, and a rejected request (any 4xx) leaves
Datastore and the upload bucket exactly as they were. The one write a rejected request is
meant to make is the login attempt counters (``LoginAttempts``) of a wrong password on
``POST /auth/login``; a page that shows pending flash messages consumes them, so
``_flashes`` is left out of the session comparison.
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gae.ndb
from framework import Flask
from framework.testing import FlaskClient
from gae.emulators import DatastoreEmulator, StorageEmulator
from gae.sessions.store import session_model
from gae.settings import reload_settings

from .harness import RawRequest, Result, build_environ, call, check_not_server_error, examples
from .strategies import Target, body_and_type, form_bodies, json_bodies, requests

FUZZ = settings(
    max_examples=examples(150),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse"


class Snapshot(t.NamedTuple):
    kinds: frozenset[str]
    entities: dict[str, frozenset[t.Any]]


def _freeze(value: t.Any) -> t.Any:
    return json.dumps(value, sort_keys=True, default=repr)


def snapshot(bucket: t.Any) -> Snapshot:
    """Every entity of every kind the app stores, and every object in its bucket."""
    from google.cloud.ndb import metadata

    from gae.storage.markers import marker_model
    from sample_app.models import Attachment, LoginAttempts, Post, User

    session_cls = session_model("Session")
    with gae.ndb.get_client().context():
        kinds = frozenset(k for k in metadata.get_kinds() if not k.startswith("__"))
        entities: dict[str, frozenset[t.Any]] = {}
        # marker_model(): the records of direct uploads handed out (gae.storage.markers).
        for model in (User, Post, Attachment, LoginAttempts, marker_model()):
            entities[model._get_kind()] = frozenset(
                (e.key.flat(), _freeze(e.to_dict())) for e in model.query().fetch()
            )
        sessions = set()
        for e in session_cls.query().fetch():
            data = json.loads(e.data or "{}")
            data.pop("_flashes", None)
            sessions.add((e.key.flat(), _freeze(data)))
        entities["Session"] = frozenset(sessions)
    unknown = kinds - set(entities)
    assert not unknown, f"the app stored kinds this test does not check: {sorted(unknown)}"
    entities["objects"] = frozenset((b.name, b.size, b.md5_hash) for b in bucket.list_blobs())
    return Snapshot(kinds, entities)


class Noticeboard:
    """The app under test, a logged-in user, and the stored state to compare with."""

    def __init__(self, app: Flask, bucket: t.Any) -> None:
        self.app = app
        self.bucket = bucket
        self.target = Target(paths=[], query_names=["cursor", "next"])
        self.baseline: Snapshot | None = None
        self.own = self.other = 0

    def login(self) -> None:
        """(Re)establish the logged-in session the requests use."""
        from sample_app.models import LoginAttempts

        # The fuzzer may have locked the account with wrong passwords.
        with gae.ndb.get_client().context():
            from google.cloud import ndb

            ndb.delete_multi(LoginAttempts.query().fetch(keys_only=True))
        client = self.app.test_client()
        token = _csrf(client, "/auth/login")
        response = client.post(
            "/auth/login", data={"username": "fuzzer", "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302, response.text
        self._adopt(client)

    def _adopt(self, client: FlaskClient) -> None:
        client.get("/")  # consume the welcome flash
        cookie = client.get_cookie("session")
        assert cookie is not None
        token = client.get("/api/session").get_json()["csrf_token"]
        self.cookie = cookie.value
        cookies = self.target.cookies
        cookies.valid[:] = [cookie.value]
        self.target.good_headers[:] = [("X-CSRF-Token", token)]
        self.target.fields.update(csrf_token=token)

    def logged_in(self, snap: Snapshot) -> bool:
        sid = self.cookie.split(".", 1)[0]
        return any(key[1] == sid and "user_id" in data for key, data in snap.entities["Session"])

    def send(self, raw: RawRequest) -> Result:
        if self.baseline is None:
            self.baseline = snapshot(self.bucket)
        result = call(self.app, build_environ(raw), "sample_app")
        check_not_server_error(result, raw)
        after = snapshot(self.bucket)
        if 400 <= result.status < 500:
            before, compared = self.baseline, after
            if raw.method == "POST" and raw.path == b"/auth/login":
                # A wrong password is counted: the rate limiter's write is expected.
                before, compared = _without_login_attempts(before), _without_login_attempts(after)
                self.baseline = after
            assert compared == before, (
                f"a rejected request ({result.status}) changed stored data:\n{raw.describe()}\n"
                f"{_diff(before, compared)}"
            )
        else:
            self.baseline = after
            if not self.logged_in(after):
                self.login()
                self.baseline = snapshot(self.bucket)
            if not any(key == ("Post", self.own) for key, _ in after.entities["Post"]):
                self.new_post()  # the fuzzer deleted it: give it one to edit again
                self.baseline = snapshot(self.bucket)
        return result

    def new_post(self) -> None:
        client = self.app.test_client()
        client.set_cookie("session", self.cookie)
        response = client.post(
            "/new", data={"title": "T", "text": "X"}, headers=self.target.good_headers
        )
        assert response.status_code == 302, response.text
        self.own = int(t.cast(str, response.headers["Location"]).rsplit("/", 1)[1])
        self.set_paths()

    def set_paths(self) -> None:
        own, other = self.own, self.other
        self.target.paths[:] = [
            p.encode()
            for p in (
                "/",
                "/u/fuzzer",
                "/u/other",
                f"/p/{own}",
                f"/p/{own}/edit",
                f"/p/{own}/delete",
                f"/p/{other}/edit",
                f"/p/{other}/delete",
                "/p/999999",
                "/new",
                "/auth/login",
                "/auth/signup",
                "/auth/logout",
                "/api/session",
                "/api/posts",
                f"/api/posts/{own}",
                f"/api/posts/{other}",
                "/healthz",
                "/_ah/warmup",
                "/tasks/session-cleanup",
                "/static/style.css",
                "/static/robots.txt",
                f"/p/{own}/attachments",
                f"/p/{own}/attachments/direct",
                f"/p/{own}/attachments/finalize",
                f"/p/{own}/a/1",
            )
        ]


def _without_login_attempts(snap: Snapshot) -> Snapshot:
    return Snapshot(snap.kinds - {"LoginAttempts"}, {**snap.entities, "LoginAttempts": frozenset()})


def _diff(before: Snapshot, after: Snapshot) -> str:
    lines = []
    for kind in sorted(set(before.entities) | set(after.entities)):
        old, new = before.entities.get(kind, frozenset()), after.entities.get(kind, frozenset())
        if old != new:
            lines.append(f"{kind}: removed {sorted(old - new)!r}, added {sorted(new - old)!r}")
    if before.kinds != after.kinds:
        lines.append(f"kinds: {sorted(before.kinds)} -> {sorted(after.kinds)}")
    return "\n".join(lines)


def _csrf(client: FlaskClient, path: str) -> str:
    match = CSRF.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture(scope="module")
def board(
    datastore_emulator: DatastoreEmulator, gcs_emulator: StorageEmulator, gcs_client: t.Any
) -> t.Iterator[Noticeboard]:
    reload_settings()
    gae.ndb.set_client_factory(None)
    datastore_emulator.reset()
    gcs_emulator.reset()
    from sample_app import create_app

    # Headers trusted as on App Engine, so the adapter parses X-Appengine-* and traces.
    # A real key, as in production: with the development key every request whose Host or
    # proxy headers are not this machine's would be refused before reaching a view.
    app = create_app(
        {
            "TESTING": True,
            "UPLOAD_BUCKET": gcs_emulator.bucket,
            "GAE_TRUST_HEADERS": True,
            "SECRET_KEY": "fuzz-secret-key-0123456789abcdef",
        }
    )
    board = Noticeboard(app, gcs_client.bucket(gcs_emulator.bucket))
    ids = {}
    for name in ("other", "fuzzer"):
        client = app.test_client()
        token = _csrf(client, "/auth/signup")
        response = client.post(
            "/auth/signup", data={"username": name, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302, response.text
        token = _csrf(client, "/new")
        response = client.post("/new", data={"title": "T", "text": "X", "csrf_token": token})
        assert response.status_code == 302
        ids[name] = int(t.cast(str, response.headers["Location"]).rsplit("/", 1)[1])
    board._adopt(client)
    board.own, board.other = ids["fuzzer"], ids["other"]
    board.set_paths()
    # What the views read, so that bodies get that far (the JSON routes included).
    board.target.fields.update(
        username="fuzzer",
        password=PASSWORD,
        title="t",
        text="x",
        next="/u/fuzzer",
        filename="a.png",
        content_type="image/png",
        size="1024",
        ticket="t.k",
    )
    yield board
    gae.ndb.set_client_factory(None)


@FUZZ
@given(data=st.data())
def test_any_request(board: Noticeboard, data: st.DataObject) -> None:
    board.send(data.draw(requests(board.target, exact_paths=12), label="request"))


@FUZZ
@given(data=st.data())
def test_form_and_json_posts_as_a_logged_in_user(board: Noticeboard, data: st.DataObject) -> None:
    own, other = board.own, board.other
    form_paths = [
        p.encode()
        for p in (
            "/new",
            f"/p/{own}/edit",
            f"/p/{own}/delete",
            f"/p/{other}/edit",
            f"/p/{other}/delete",
            f"/p/{own}/attachments",
            f"/p/{own}/attachments/direct",
            f"/p/{own}/attachments/finalize",
            "/auth/login",
            "/auth/signup",
            "/auth/logout",
        )
    ]
    kind = data.draw(st.sampled_from(["form", "json"]), label="kind")
    if kind == "form":
        target = replace(board.target, paths=form_paths)
        bodies = st.one_of(form_bodies(target.fields), body_and_type(target.fields))
    else:
        api = [
            b"/api/posts",
            b"/api/posts",
            f"/api/posts/{own}".encode(),
            b"/api/session",
            f"/p/{own}/attachments/direct".encode(),
            f"/p/{own}/attachments/finalize".encode(),
        ]
        target = replace(board.target, paths=api)
        bodies = json_bodies(target.fields)
    methods = ["POST", "POST", "POST", "POST", "PUT", "DELETE"]
    raw = data.draw(
        requests(target, methods=methods, bodies=bodies, exact_paths=24), label="request"
    )
    if data.draw(st.integers(0, 3), label="anonymous") != 3:
        # Always the logged-in session with its token: the body decides the outcome.
        raw.headers = [h for h in raw.headers if h[0].lower() not in {"cookie", "x-csrf-token"}]
        raw.headers += [("Cookie", f"session={board.cookie}"), *board.target.good_headers]
    board.send(raw)
