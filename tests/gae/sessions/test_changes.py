"""What a Datastore session save writes: in-place changes, and never a session that ended.

Regressions from the security audit (issue 17): a value changed in place
(``session["cart"].append(x)``) was lost whenever the same request also assigned a key
(``flash()``), and a request that was running during a logout or a login wrote the
session back afterwards, bringing the logged-out user (or the rotated id) back.
Interleavings are made deterministic with events: the slow request has loaded its session
before the other one runs, and saves after it.
"""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Iterator

import pytest
from google.cloud import ndb

import gae.ndb
from framework import Flask, flash, get_flashed_messages, session
from framework.testing import FlaskClient
from gae import AppEngine, Settings
from gae.emulators import DatastoreEmulator
from gae.sessions import destroy, regenerate
from gae.sessions.store import session_model
from gae.settings import reload_settings

SECRET = "0123456789abcdef0123456789abcdef-changes"


class Gate:
    """Holds a request after it has loaded its session, until the test lets it save."""

    def __init__(self) -> None:
        self.loaded = threading.Event()
        self.go = threading.Event()

    def hold(self) -> None:
        self.loaded.set()
        assert self.go.wait(60), "the test never released the held request"


def build_app(gate: Gate) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, TESTING=True)

    @app.route("/login/<user>")
    def login(user: str) -> str:
        regenerate()
        session["user"] = user
        session["cart"] = []
        return "in"

    @app.route("/set/<key>/<value>")
    def set_value(key: str, value: str) -> str:
        session[key] = value
        return "set"

    @app.route("/all")
    def all_values() -> dict[str, t.Any]:
        return dict(session)

    @app.route("/add/<item>")
    def add(item: str) -> str:
        # The Flask idiom: change in place, say so, and flash a message (a key write).
        session["cart"].append(item)
        session.modified = True
        flash(f"Added {item}.")
        return "added"

    @app.route("/add-quietly/<item>")
    def add_quietly(item: str) -> str:
        session["prefs"]["seen"].append(item)  # nested, and no key assigned at all
        session.modified = True
        return "added"

    @app.route("/held/add/<item>")
    def held_add(item: str) -> str:
        session.get("user")  # the session is loaded now
        gate.hold()
        session["cart"].append(item)
        session.modified = True
        flash(f"Added {item}.")
        return "added"

    @app.route("/held/read")
    def held_read() -> str:
        user = session.get("user")
        gate.hold()
        return str(user)

    @app.route("/held/login/<user>")
    def held_login(user: str) -> str:
        session.get("user")
        gate.hold()
        regenerate()
        session["user"] = user
        return "in"

    @app.route("/held/rotate")
    def held_rotate() -> str:
        session.get("user")
        gate.hold()
        regenerate()  # e.g. after a password change: no key written
        return "rotated"

    @app.route("/clear")
    def clear() -> str:
        session.clear()  # emptied, not destroyed
        return "cleared"

    @app.route("/held/clear")
    def held_clear() -> str:
        session.get("user")
        gate.hold()
        session.clear()
        return "cleared"

    @app.route("/flashes")
    def flashes() -> list[str]:
        return list(get_flashed_messages())

    @app.route("/logout")
    def logout() -> str:
        destroy()
        return "bye"

    AppEngine(app, settings=Settings.from_environ({}), sessions=True)
    return app


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.go.set()  # never leave a request thread waiting


@pytest.fixture
def app(datastore_emulator: DatastoreEmulator, gate: Gate) -> Iterator[Flask]:
    reload_settings()
    gae.ndb.set_client_factory(None)
    datastore_emulator.reset()
    yield build_app(gate)
    gae.ndb.set_client_factory(None)


def sid_of(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.value
    return cookie.value.split(".")[0]


def stored(sid: str) -> t.Any:
    with gae.ndb.get_client().context():
        return ndb.Key("Session", sid).get(use_cache=False)


def count_sessions() -> int:
    with gae.ndb.get_client().context():
        return int(session_model("Session").query().count())


def same_session(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another client (another tab) with the same session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    other = app.test_client()
    other.set_cookie("session", cookie.value)
    return other


class Held:
    """A request running in a thread, held by the gate after it loaded its session."""

    def __init__(self, client: FlaskClient, path: str, gate: Gate) -> None:
        self.gate = gate
        self.response: t.Any = None
        self.thread = threading.Thread(target=self._run, args=(client, path))
        self.thread.start()
        assert gate.loaded.wait(60), f"{path} never loaded its session"

    def _run(self, client: FlaskClient, path: str) -> None:
        self.response = client.get(path)

    def finish(self) -> t.Any:
        self.gate.go.set()
        self.thread.join(60)
        assert not self.thread.is_alive()
        return self.response


def test_an_in_place_change_and_a_flash_in_one_request_are_both_kept(app: Flask) -> None:
    client = app.test_client()
    client.get("/login/alice")
    for item in ("apple", "pear"):
        assert client.get(f"/add/{item}").text == "added"
        assert client.get("/flashes").get_json() == [f"Added {item}."]
    assert client.get("/all").get_json() == {"user": "alice", "cart": ["apple", "pear"]}


def test_a_nested_in_place_change_is_kept(app: Flask) -> None:
    client = app.test_client()
    client.get("/login/alice")
    # Store a nested structure, then change it two levels down without assigning a key.
    with client.session_transaction() as sess:
        sess["prefs"] = {"seen": []}
    client.get("/add-quietly/intro")
    assert client.get("/all").get_json()["prefs"] == {"seen": ["intro"]}


def test_an_in_place_change_still_merges_with_a_concurrent_write_to_another_key(
    app: Flask, gate: Gate
) -> None:
    client = app.test_client()
    client.get("/login/alice")
    held = Held(same_session(app, client), "/held/add/apple", gate)
    assert same_session(app, client).get("/set/theme/dark").text == "set"
    assert held.finish().text == "added"
    assert client.get("/flashes").get_json() == ["Added apple."]
    assert client.get("/all").get_json() == {"user": "alice", "cart": ["apple"], "theme": "dark"}


def test_a_request_running_during_logout_does_not_log_the_user_back_in(
    app: Flask, gate: Gate
) -> None:
    client = app.test_client()
    client.get("/login/alice")
    sid = sid_of(client)
    held = Held(same_session(app, client), "/held/add/apple", gate)
    logout = same_session(app, client).get("/logout")
    assert "session=;" in logout.headers["Set-Cookie"]
    assert stored(sid) is None

    late = held.finish()
    assert late.status_code == 200
    assert "Set-Cookie" not in late.headers  # the logout's deleted cookie stays deleted
    assert stored(sid) is None
    assert count_sessions() == 0
    # The old cookie, replayed, is a logged-out visitor.
    assert same_session(app, client).get("/all").get_json() == {}


def test_a_request_running_during_a_login_does_not_bring_back_the_old_id(
    app: Flask, gate: Gate
) -> None:
    client = app.test_client()
    client.get("/login/alice")
    old_sid = sid_of(client)
    held = Held(same_session(app, client), "/held/add/apple", gate)
    login = same_session(app, client)
    assert login.get("/login/bob").text == "in"
    new_sid = sid_of(login)
    assert new_sid != old_sid

    late = held.finish()
    assert late.status_code == 200
    assert "Set-Cookie" not in late.headers  # the browser keeps the login's new cookie
    assert stored(old_sid) is None
    assert count_sessions() == 1
    assert login.get("/all").get_json() == {"user": "bob", "cart": []}


def test_a_regenerate_after_a_concurrent_logout_keeps_only_its_own_changes(
    app: Flask, gate: Gate
) -> None:
    client = app.test_client()
    client.get("/login/alice")
    client.get("/set/secret/alice-only")
    sid = sid_of(client)
    tab = same_session(app, client)
    held = Held(tab, "/held/login/carol", gate)
    same_session(app, client).get("/logout")
    assert stored(sid) is None

    late = held.finish()
    assert late.text == "in"
    assert stored(sid) is None
    # The login's own write is a new session; the logged-out session's data is gone.
    assert sid_of(tab) != sid
    assert tab.get("/all").get_json() == {"user": "carol"}
    assert count_sessions() == 1


def test_a_regenerate_with_nothing_of_its_own_after_a_logout_writes_nothing(
    app: Flask, gate: Gate
) -> None:
    client = app.test_client()
    client.get("/login/alice")
    held = Held(same_session(app, client), "/held/rotate", gate)
    same_session(app, client).get("/logout")
    late = held.finish()
    assert late.text == "rotated"
    assert "Set-Cookie" not in late.headers
    assert count_sessions() == 0


def test_a_due_refresh_after_a_concurrent_login_leaves_the_new_cookie_alone(
    app: Flask, gate: Gate
) -> None:
    app.config["SESSION_DATASTORE_REFRESH_INTERVAL"] = 0
    client = app.test_client()
    client.get("/login/alice")
    old_sid = sid_of(client)
    held = Held(same_session(app, client), "/held/read", gate)
    same_session(app, client).get("/login/bob")
    late = held.finish()
    assert late.text == "alice"
    # Deleting the cookie here would delete the one the login just set (same name).
    assert "Set-Cookie" not in late.headers
    assert stored(old_sid) is None


def test_a_brand_new_session_is_still_created(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/set/a/1").text == "set"
    assert stored(sid_of(client)) is not None
    assert client.get("/all").get_json() == {"a": "1"}


def test_an_emptied_session_is_deleted_with_its_cookie(app: Flask) -> None:
    client = app.test_client()
    client.get("/login/alice")
    sid = sid_of(client)
    response = client.get("/clear")
    assert "session=;" in response.headers["Set-Cookie"]
    assert stored(sid) is None


def test_emptying_a_session_keeps_a_key_a_concurrent_request_added(app: Flask, gate: Gate) -> None:
    client = app.test_client()
    client.get("/login/alice")
    sid = sid_of(client)
    held = Held(same_session(app, client), "/held/clear", gate)
    assert same_session(app, client).get("/set/theme/dark").text == "set"
    late = held.finish()
    assert late.text == "cleared"
    # Only what the late request removed is removed (it used to delete the whole entity).
    assert "session=;" not in late.headers.get("Set-Cookie", "")
    assert stored(sid) is not None
    assert client.get("/all").get_json() == {"theme": "dark"}
