"""Cookie sessions: tracking, signing, rotation, and cookies interchangeable with Flask's."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, timedelta
from uuid import UUID

import flask
import flask.sessions as flask_sessions
import pytest
from werkzeug.http import parse_cookie
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from framework.json.provider import DefaultJSONProvider
from framework.sessions import (
    NullSession,
    SecureCookieSession,
    SecureCookieSessionInterface,
    SessionInterface,
    SessionMixin,
)

NOW = 1_700_000_000


class StubApp:
    """The attributes of an app that the session interface reads."""

    response_class = Response
    debug = False

    def __init__(self, secret_key: str | bytes | None = "s3cret", **config: t.Any) -> None:
        self.config: dict[str, t.Any] = {**flask.Flask.default_config, **config}
        self.config["SECRET_KEY"] = secret_key
        self.json = DefaultJSONProvider(self)  # type: ignore[arg-type]

    @property
    def secret_key(self) -> str | bytes | None:
        return t.cast("str | bytes | None", self.config["SECRET_KEY"])

    @property
    def permanent_session_lifetime(self) -> timedelta:
        return t.cast(timedelta, self.config["PERMANENT_SESSION_LIFETIME"])


def flask_app(secret_key: str | None = "s3cret", **config: t.Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.secret_key = secret_key
    app.config.update(config)
    return app


def request_with(cookie: str | None, name: str = "session") -> Request:
    headers = {"Cookie": f"{name}={cookie}"} if cookie is not None else {}
    return Request(EnvironBuilder(headers=headers).get_environ())


def save(iface: t.Any, app: t.Any, session: t.Any) -> Response:
    response = Response()
    iface.save_session(app, session, response)
    return response


def filled(cls: type[t.Any], data: dict[str, t.Any]) -> t.Any:
    """A session holding ``data`` as if a view had just written it."""
    session = cls()
    session.update(data)
    return session


def cookie_value(response: Response, name: str = "session") -> str:
    (header,) = response.headers.getlist("Set-Cookie")
    return parse_cookie(header.split(";", 1)[0])[name]


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    # itsdangerous timestamps with time.time(); a mutable cell lets tests move the clock.
    clock = [NOW]
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: clock[0])
    return clock


DATA: list[dict[str, t.Any]] = [
    {"user": 1},
    {"z": "last", "a": "first", "caf\u00e9": "\u2603"},
    {"cart": [(1, 2), (3, 4)], "raw": b"\x00\x01", "id": UUID(int=5)},
    {"when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), " t": "tag-like key"},
    {"long": "x" * 500},
]


# Session objects


def test_writes_mark_session_modified() -> None:
    session = SecureCookieSession({"a": 1})
    assert not session.modified and not session.accessed
    assert session["a"] == 1 and session.get("b") is None and "a" in session
    assert not session.modified
    session.setdefault("a", 2)
    assert not session.modified
    session.setdefault("b", 2)
    assert session.modified and session["b"] == 2

    session = SecureCookieSession({"a": 1})
    session.pop("missing", None)
    assert not session.modified
    del session["a"]
    assert session.modified


OPERATIONS: dict[str, t.Callable[[t.Any], object]] = {
    "getitem": lambda s: s["a"],
    "get": lambda s: s.get("a"),
    "contains": lambda s: "a" in s,
    "len": len,
    "iter": list,
    "setitem": lambda s: s.__setitem__("b", 1),
    "delitem": lambda s: s.__delitem__("a"),
    "pop": lambda s: s.pop("a"),
    "pop-missing": lambda s: s.pop("zz", None),
    "update": lambda s: s.update(c=3),
    "clear": lambda s: s.clear(),
    "setdefault-existing": lambda s: s.setdefault("a", 0),
    "setdefault-new": lambda s: s.setdefault("n", 0),
    "permanent-read": lambda s: s.permanent,
    "permanent-write": lambda s: setattr(s, "permanent", True),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_tracking_flags_match_flask(operation: str) -> None:
    ours = SecureCookieSession({"a": 1})
    theirs = flask_sessions.SecureCookieSession({"a": 1})
    OPERATIONS[operation](ours)
    OPERATIONS[operation](theirs)
    assert (ours.accessed, ours.modified) == (theirs.accessed, theirs.modified)
    assert dict(ours) == dict(theirs)


def test_permanent_is_stored_in_session() -> None:
    session = SecureCookieSession()
    assert session.permanent is False
    session.permanent = True
    assert session["_permanent"] is True
    assert SecureCookieSession({"_permanent": True}).permanent is True


def test_session_mixin_defaults() -> None:
    # The request context, not the mapping, sets ``accessed`` (Flask 3.1.3 behaviour).
    assert (SessionMixin.new, SessionMixin.modified, SessionMixin.accessed) == (False, True, False)
    flask_mixin = flask_sessions.SessionMixin
    assert (flask_mixin.new, flask_mixin.modified, flask_mixin.accessed) == (False, True, False)
    assert SecureCookieSession().new is False


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.__setitem__("a", 1),
        lambda s: s.__delitem__("a"),
        lambda s: s.update(a=1),
        lambda s: s.setdefault("a", 1),
        lambda s: s.pop("a"),
        lambda s: s.popitem(),
        lambda s: s.clear(),
    ],
)
def test_null_session_refuses_writes_with_fix(write: t.Callable[[t.Any], object]) -> None:
    session = NullSession()
    assert session.get("a") is None and len(session) == 0
    with pytest.raises(RuntimeError, match="no secret key was set") as info:
        write(session)
    assert "app.secret_key" in str(info.value)
    assert "SECRET_KEY" in str(info.value)


def test_base_interface_methods() -> None:
    iface = SessionInterface()
    app = StubApp(SESSION_COOKIE_PATH=None, APPLICATION_ROOT="/app")
    assert iface.pickle_based is False
    assert iface.is_null_session(iface.make_null_session(app))  # type: ignore[arg-type]
    assert not iface.is_null_session(SecureCookieSession())
    assert iface.get_cookie_path(app) == "/app"  # type: ignore[arg-type]
    app.config["SESSION_COOKIE_PATH"] = "/only"
    assert iface.get_cookie_path(app) == "/only"  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError):
        iface.open_session(app, request_with(None))  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError):
        iface.save_session(app, SecureCookieSession(), Response())  # type: ignore[arg-type]


def test_interface_class_attributes_match_flask() -> None:
    ours = SecureCookieSessionInterface
    theirs = flask_sessions.SecureCookieSessionInterface
    assert (ours.salt, ours.key_derivation) == (theirs.salt, theirs.key_derivation)
    assert ours.digest_method().name == theirs.digest_method().name == "sha1"
    assert ours.session_class is SecureCookieSession
    assert ours.null_session_class is NullSession


# Opening and saving with a stand-in app


def test_cookie_round_trip() -> None:
    iface = SecureCookieSessionInterface()
    app = StubApp()
    for data in DATA:
        response = save(iface, app, filled(SecureCookieSession, data))
        loaded = iface.open_session(app, request_with(cookie_value(response)))  # type: ignore[arg-type]
        assert loaded is not None
        assert dict(loaded) == data
        assert not loaded.modified and not loaded.accessed


@pytest.mark.parametrize("data", DATA, ids=repr)
def test_cookie_bytes_identical_to_flask(frozen_time: list[int], data: dict[str, t.Any]) -> None:
    ours = save(SecureCookieSessionInterface(), StubApp(), filled(SecureCookieSession, data))
    theirs = save(
        flask_sessions.SecureCookieSessionInterface(),
        flask_app(),
        filled(flask_sessions.SecureCookieSession, data),
    )
    assert ours.headers.getlist("Set-Cookie") == theirs.headers.getlist("Set-Cookie")
    assert ours.headers.get("Vary") == theirs.headers.get("Vary") == "Cookie"


@pytest.mark.parametrize("data", DATA, ids=repr)
def test_flask_and_framework_read_each_others_cookies(data: dict[str, t.Any]) -> None:
    ours, theirs = SecureCookieSessionInterface(), flask_sessions.SecureCookieSessionInterface()
    app, fapp = StubApp(), flask_app()

    our_cookie = cookie_value(save(ours, app, filled(SecureCookieSession, data)))
    read_by_flask = theirs.open_session(fapp, request_with(our_cookie))
    assert dict(read_by_flask) == data

    flask_cookie = cookie_value(
        save(theirs, fapp, filled(flask_sessions.SecureCookieSession, data))
    )
    read_by_us = ours.open_session(app, request_with(flask_cookie))  # type: ignore[arg-type]
    assert read_by_us is not None
    assert dict(read_by_us) == data


def test_absent_cookie_gives_empty_session() -> None:
    session = SecureCookieSessionInterface().open_session(StubApp(), request_with(None))  # type: ignore[arg-type]
    assert isinstance(session, SecureCookieSession)
    assert dict(session) == {}
    assert not session.modified


def _tampered(cookie: str) -> list[str]:
    payload, timestamp, signature = cookie.rsplit(".", 2)
    # Change the first character: all six of its bits are signature bits (the last
    # character's low bits are padding, so changing it may decode to the same bytes).
    flipped = "A" if signature[0] != "A" else "B"
    return [
        f"{payload}.{timestamp}.{flipped}{signature[1:]}",
        f"{payload}x.{timestamp}.{signature}",
        f"{payload}.{timestamp}",
        cookie[: len(cookie) // 2],
        cookie[:-1],
        "garbage",
        "...",
        ".",
        "\u00e9\u00e9",
        "eyJ1c2VyIjoxfQ.ZVQDAA.not-a-signature",
    ]


def test_bad_cookies_give_fresh_empty_session() -> None:
    iface = SecureCookieSessionInterface()
    app = StubApp()
    good = cookie_value(save(iface, app, filled(SecureCookieSession, {"user": "admin"})))
    for bad in _tampered(good):
        session = iface.open_session(app, request_with(bad))  # type: ignore[arg-type]
        assert isinstance(session, SecureCookieSession), bad
        assert dict(session) == {}, bad


def test_cookie_signed_with_other_key_is_ignored() -> None:
    iface = SecureCookieSessionInterface()
    cookie = cookie_value(save(iface, StubApp("other"), filled(SecureCookieSession, {"user": 1})))
    session = iface.open_session(StubApp("s3cret"), request_with(cookie))  # type: ignore[arg-type]
    assert session is not None and dict(session) == {}


def test_signed_non_dict_payload_gives_empty_session() -> None:
    iface = SecureCookieSessionInterface()
    app = StubApp()
    signer = iface.get_signing_serializer(app)  # type: ignore[arg-type]
    assert signer is not None
    cookie = t.cast(str, signer.dumps([1, 2]))
    session = iface.open_session(app, request_with(cookie))  # type: ignore[arg-type]
    assert session is not None and dict(session) == {}


def test_expired_cookie_gives_empty_session(frozen_time: list[int]) -> None:
    iface = SecureCookieSessionInterface()
    app = StubApp(PERMANENT_SESSION_LIFETIME=timedelta(minutes=10))
    cookie = cookie_value(save(iface, app, filled(SecureCookieSession, {"user": 1})))

    frozen_time[0] = NOW + 600
    session = iface.open_session(app, request_with(cookie))  # type: ignore[arg-type]
    assert session is not None and dict(session) == {"user": 1}

    frozen_time[0] = NOW + 601
    session = iface.open_session(app, request_with(cookie))  # type: ignore[arg-type]
    assert session is not None and dict(session) == {}


def test_no_secret_key_means_no_session() -> None:
    iface = SecureCookieSessionInterface()
    for key in (None, ""):
        app = StubApp(key)
        assert iface.get_signing_serializer(app) is None  # type: ignore[arg-type]
        assert iface.open_session(app, request_with("anything")) is None  # type: ignore[arg-type]


def test_unaccessed_session_leaves_response_alone() -> None:
    response = save(SecureCookieSessionInterface(), StubApp(), SecureCookieSession({"a": 1}))
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers


def test_accessed_session_adds_vary_without_cookie() -> None:
    session = SecureCookieSession({"a": 1})
    session.accessed = True
    response = save(SecureCookieSessionInterface(), StubApp(), session)
    assert response.headers["Vary"] == "Cookie"
    assert "Set-Cookie" not in response.headers


COOKIE_CONFIGS: list[dict[str, t.Any]] = [
    {},
    {
        "SESSION_COOKIE_NAME": "sid",
        "SESSION_COOKIE_DOMAIN": "example.com",
        "SESSION_COOKIE_PATH": "/app",
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": False,
        "SESSION_COOKIE_PARTITIONED": True,
    },
    {"APPLICATION_ROOT": "/root", "SESSION_COOKIE_SAMESITE": "Strict"},
]


@pytest.mark.parametrize("config", COOKIE_CONFIGS, ids=repr)
def test_cleared_session_deletes_cookie_like_flask(config: dict[str, t.Any]) -> None:
    ours = SecureCookieSession({"a": 1})
    ours.clear()
    theirs = flask_sessions.SecureCookieSession({"a": 1})
    theirs.clear()
    our_response = save(SecureCookieSessionInterface(), StubApp(**config), ours)
    their_response = save(
        flask_sessions.SecureCookieSessionInterface(), flask_app(**config), theirs
    )
    (header,) = our_response.headers.getlist("Set-Cookie")
    assert header == their_response.headers["Set-Cookie"]
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in header
    assert our_response.headers["Vary"] == "Cookie"


@pytest.mark.parametrize("config", COOKIE_CONFIGS, ids=repr)
def test_cookie_attributes_like_flask(frozen_time: list[int], config: dict[str, t.Any]) -> None:
    ours = save(
        SecureCookieSessionInterface(), StubApp(**config), filled(SecureCookieSession, {"a": 1})
    )
    theirs = save(
        flask_sessions.SecureCookieSessionInterface(),
        flask_app(**config),
        filled(flask_sessions.SecureCookieSession, {"a": 1}),
    )
    assert ours.headers["Set-Cookie"] == theirs.headers["Set-Cookie"]


def test_empty_unmodified_session_sets_nothing() -> None:
    response = save(SecureCookieSessionInterface(), StubApp(), SecureCookieSession())
    assert "Set-Cookie" not in response.headers


def test_permanent_session_expires_after_lifetime() -> None:
    app = StubApp(PERMANENT_SESSION_LIFETIME=timedelta(hours=2))
    session = SecureCookieSession({"a": 1})
    session.permanent = True
    before = datetime.now(UTC).replace(microsecond=0)
    header = save(SecureCookieSessionInterface(), app, session).headers["Set-Cookie"]
    expires = [p.split("=", 1)[1] for p in header.split("; ") if p.startswith("Expires=")]
    (expires_at,) = (datetime.strptime(e, "%a, %d %b %Y %H:%M:%S GMT") for e in expires)
    delta = expires_at.replace(tzinfo=UTC) - before
    assert timedelta(hours=2) <= delta <= timedelta(hours=2, seconds=2)


@pytest.mark.parametrize("refresh", [True, False])
def test_refresh_each_request_resends_permanent_cookie(refresh: bool) -> None:
    app = StubApp(SESSION_REFRESH_EACH_REQUEST=refresh)
    session = SecureCookieSession({"_permanent": True, "a": 1})
    response = save(SecureCookieSessionInterface(), app, session)
    assert ("Set-Cookie" in response.headers) is refresh
    non_permanent = save(SecureCookieSessionInterface(), app, SecureCookieSession({"a": 1}))
    assert "Set-Cookie" not in non_permanent.headers


def test_secret_key_fallbacks_rotation() -> None:
    iface = SecureCookieSessionInterface()
    old_cookie = cookie_value(save(iface, StubApp("old"), filled(SecureCookieSession, {"u": 1})))

    rotated = StubApp("new", SECRET_KEY_FALLBACKS=["older", "old"])
    session = iface.open_session(rotated, request_with(old_cookie))  # type: ignore[arg-type]
    assert session is not None and dict(session) == {"u": 1}

    # New cookies are signed with the current key only.
    new_cookie = cookie_value(save(iface, rotated, filled(SecureCookieSession, {"u": 2})))
    only_new = iface.open_session(StubApp("new"), request_with(new_cookie))  # type: ignore[arg-type]
    assert only_new is not None and dict(only_new) == {"u": 2}
    only_old = iface.open_session(StubApp("old"), request_with(new_cookie))  # type: ignore[arg-type]
    assert only_old is not None and dict(only_old) == {}

    # Without the fallback the old cookie no longer verifies.
    plain = iface.open_session(StubApp("new"), request_with(old_cookie))  # type: ignore[arg-type]
    assert plain is not None and dict(plain) == {}


def test_fallback_cookies_readable_by_flask_and_back(frozen_time: list[int]) -> None:
    config = {"SECRET_KEY_FALLBACKS": ["old"]}
    ours = save(
        SecureCookieSessionInterface(),
        StubApp("new", **config),
        filled(SecureCookieSession, {"u": 1}),
    )
    theirs = save(
        flask_sessions.SecureCookieSessionInterface(),
        flask_app("new", **config),
        filled(flask_sessions.SecureCookieSession, {"u": 1}),
    )
    assert ours.headers["Set-Cookie"] == theirs.headers["Set-Cookie"]


def test_signing_serializer_is_cached_and_follows_key_changes() -> None:
    iface = SecureCookieSessionInterface()
    app = StubApp("first")
    signer = iface.get_signing_serializer(app)  # type: ignore[arg-type]
    assert signer is not None
    assert iface.get_signing_serializer(app) is signer  # type: ignore[arg-type]
    cookie = t.cast(str, signer.dumps({"a": 1}))

    app.config["SECRET_KEY"] = "second"
    changed = iface.get_signing_serializer(app)  # type: ignore[arg-type]
    assert changed is not None and changed is not signer
    session = iface.open_session(app, request_with(cookie))  # type: ignore[arg-type]
    assert session is not None and dict(session) == {}

    app.config["SECRET_KEY_FALLBACKS"] = ["first"]
    session = iface.open_session(app, request_with(cookie))  # type: ignore[arg-type]
    assert session is not None and dict(session) == {"a": 1}

    # Each app has its own signer.
    other = StubApp("first")
    assert iface.get_signing_serializer(other) is not iface.get_signing_serializer(app)  # type: ignore[arg-type]


def test_salt_change_on_instance_takes_effect() -> None:
    iface = SecureCookieSessionInterface()
    app = StubApp()
    cookie = cookie_value(save(iface, app, filled(SecureCookieSession, {"a": 1})))
    iface.salt = "other-salt"
    session = iface.open_session(app, request_with(cookie))  # type: ignore[arg-type]
    assert session is not None and dict(session) == {}


# End to end, through the application and its test client, side by side with Flask


def make_apps(**config: t.Any) -> list[t.Any]:
    """The same session-using app built on Flask and on framework."""
    import framework

    apps: list[t.Any] = []
    for module in (flask, framework):
        app = module.Flask(__name__)
        app.config.update({"SECRET_KEY": "s3cret", "TESTING": True, **config})
        sess = module.session

        @app.route("/<op>")
        def view(op: str, sess: t.Any = sess) -> t.Any:
            if op == "get":
                sess.get("a")
            elif op == "in":
                _ = "a" in sess
            elif op == "len":
                len(sess)
            elif op == "set":
                sess["a"] = (1, b"\x00", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))
            elif op == "clear":
                sess.clear()
            elif op == "permanent":
                sess.permanent = True
            elif op == "modified":
                sess.modified = True
            return repr(dict(sess)) if op == "show" else "ok"

        apps.append(app)
    return apps


def _normalize(set_cookie: list[str]) -> list[str]:
    # Expiry is computed from the wall clock, which may tick between the two apps' runs.
    out = []
    for header in set_cookie:
        parts = header.split("; ")
        for i, part in enumerate(parts):
            if part.startswith("Expires=") and "1970" not in part:
                expires = datetime.strptime(part[8:], "%a, %d %b %Y %H:%M:%S GMT")
                assert expires.replace(tzinfo=UTC) > datetime.now(UTC)
                parts[i] = "Expires=<future>"
        out.append("; ".join(parts))
    return out


INCOMING: list[dict[str, t.Any] | None] = [None, {}, {"a": 2}, {"a": 2, "_permanent": True}]
OPS = ["none", "get", "in", "len", "set", "clear", "permanent", "modified", "show"]


@pytest.mark.parametrize("incoming", INCOMING, ids=repr)
@pytest.mark.parametrize("op", OPS)
def test_app_session_headers_match_flask(
    frozen_time: list[int], incoming: dict[str, t.Any] | None, op: str
) -> None:
    results = []
    for app in make_apps():
        client = app.test_client()
        if incoming is not None:
            signer = app.session_interface.get_signing_serializer(app)
            client.set_cookie("session", signer.dumps(incoming))
        response = client.get(f"/{op}")
        results.append(
            (
                response.status_code,
                response.get_data(),
                _normalize(response.headers.getlist("Set-Cookie")),
                response.headers.get("Vary"),
            )
        )
    flask_result, our_result = results
    assert our_result == flask_result


def test_app_session_round_trip_between_requests() -> None:
    _, app = make_apps()
    client = app.test_client()
    client.get("/set")
    shown = client.get("/show").get_data(as_text=True)
    assert shown == repr({"a": (1, b"\x00", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))})
    client.get("/clear")
    assert client.get("/show").get_data(as_text=True) == "{}"


def test_flask_app_reads_our_cookie_and_back() -> None:
    flask_app_, our_app = make_apps()
    for writer, reader in ((our_app, flask_app_), (flask_app_, our_app)):
        write_client, read_client = writer.test_client(), reader.test_client()
        value = cookie_value(t.cast(Response, write_client.get("/set")))
        read_client.set_cookie("session", value)
        shown = read_client.get("/show").get_data(as_text=True)
        assert shown == repr({"a": (1, b"\x00", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))})


def test_app_tampered_cookie_gives_empty_session() -> None:
    _, app = make_apps()
    client = app.test_client()
    good = cookie_value(t.cast(Response, client.get("/set")))
    for bad in _tampered(good):
        client.set_cookie("session", bad)
        response = client.get("/show")
        assert response.status_code == 200, bad
        assert response.get_data(as_text=True) == "{}", bad


def test_app_secret_key_rotation() -> None:
    _, old_app = make_apps(SECRET_KEY="old")
    old_cookie = cookie_value(t.cast(Response, old_app.test_client().get("/set")))

    _, rotated = make_apps(SECRET_KEY="new", SECRET_KEY_FALLBACKS=["old"])
    client = rotated.test_client()
    client.set_cookie("session", old_cookie)
    assert client.get("/show").get_data(as_text=True) != "{}"
    # Writing re-signs with the new key, readable without the fallback.
    new_cookie = cookie_value(t.cast(Response, client.get("/set")))
    _, new_only = make_apps(SECRET_KEY="new")
    new_client = new_only.test_client()
    new_client.set_cookie("session", new_cookie)
    assert new_client.get("/show").get_data(as_text=True) != "{}"
    new_client.set_cookie("session", old_cookie)
    assert new_client.get("/show").get_data(as_text=True) == "{}"


def test_app_without_secret_key_explains_on_write() -> None:
    _, app = make_apps(SECRET_KEY=None)
    client = app.test_client()
    response = client.get("/show")
    assert response.get_data(as_text=True) == "{}"
    assert "Set-Cookie" not in response.headers
    with pytest.raises(RuntimeError, match="no secret key was set") as info:
        client.get("/set")
    assert "app.secret_key" in str(info.value)


def test_app_session_transaction_uses_interface() -> None:
    _, app = make_apps()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["a"] = (1, 2)
    assert client.get("/show").get_data(as_text=True) == repr({"a": (1, 2)})


def test_app_signer_built_once_per_key() -> None:
    _, app = make_apps()
    iface = app.session_interface
    client = app.test_client()
    client.get("/set")
    signer = iface.get_signing_serializer(app)
    client.get("/set")
    assert iface.get_signing_serializer(app) is signer
    app.secret_key = "rotated"
    assert iface.get_signing_serializer(app) is not signer
