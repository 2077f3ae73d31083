"""Datastore sessions against the real Datastore emulator."""

from __future__ import annotations

import threading
import typing as t
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import ndb
from google.cloud.ndb import _datastore_api
from markupsafe import Markup

import gae.ndb
from framework import Flask, session
from gae import AppEngine, Settings
from gae.emulators import DatastoreEmulator
from gae.sessions import DatastoreSessionInterface, destroy, regenerate
from gae.sessions.store import PAYLOAD_LIMIT, SessionTooLarge, session_model
from gae.settings import reload_settings

SECRET = "0123456789abcdef0123456789abcdef-test"
LOCAL = Settings.from_environ({})


class RpcLog:
    """The Datastore RPCs made (the calls still go to the emulator)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def rpcs(monkeypatch: pytest.MonkeyPatch) -> RpcLog:
    log = RpcLog()
    real = _datastore_api.make_call

    def counting(rpc_name: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        log.calls.append(rpc_name)
        return real(rpc_name, *args, **kwargs)

    monkeypatch.setattr(_datastore_api, "make_call", counting)
    return log


def build_app(**config: t.Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, TESTING=True, **config)

    @app.route("/set/<key>/<value>")
    def set_value(key: str, value: str) -> str:
        session[key] = value
        return "set"

    @app.route("/get/<key>")
    def get_value(key: str) -> str:
        return str(session.get(key))

    @app.route("/all")
    def all_values() -> dict[str, t.Any]:
        return {k: repr(v) for k, v in session.items()}

    @app.route("/nothing")
    def nothing() -> str:
        return "nothing"

    @app.route("/rich")
    def rich() -> str:
        session["rich"] = {
            "tuple": (1, 2),
            "bytes": b"\x00\xff",
            "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            "id": uuid.UUID(int=7),
            "html": Markup("<b>x</b>"),
        }
        return "ok"

    @app.route("/login")
    def login() -> str:
        regenerate()
        session["user"] = "alice"
        return "logged in"

    @app.route("/logout")
    def logout() -> str:
        destroy()
        return "bye"

    @app.route("/big")
    def big() -> str:
        session["big"] = "x" * (PAYLOAD_LIMIT + 10)
        return "too big"

    @app.route("/permanent")
    def permanent() -> str:
        session.permanent = True
        session["p"] = 1
        return "permanent"

    AppEngine(app, settings=LOCAL, sessions=True)
    return app


@pytest.fixture
def app(datastore_emulator: DatastoreEmulator) -> Iterator[Flask]:
    reload_settings()
    gae.ndb.set_client_factory(None)
    datastore_emulator.reset()
    yield build_app()
    gae.ndb.set_client_factory(None)


def stored(sid: str, kind: str = "Session", namespace: str | None = None) -> t.Any:
    with gae.ndb.get_client().context():
        return ndb.Key(kind, sid, namespace=namespace).get(use_cache=False)


def count_sessions(kind: str = "Session") -> int:
    with gae.ndb.get_client().context():
        return int(session_model(kind).query().count())


def session_cookie(client: t.Any) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie is not None else None


def sid_of(client: t.Any) -> str:
    value = session_cookie(client)
    assert value is not None
    return value.split(".")[0]


def test_no_cookie_means_no_datastore_call_and_nothing_stored(app: Flask, rpcs: RpcLog) -> None:
    client = app.test_client()
    response = client.get("/get/x")
    assert response.text == "None"
    assert "Set-Cookie" not in response.headers
    assert rpcs.calls == []
    assert client.get("/nothing").text == "nothing"
    assert rpcs.calls == []
    assert count_sessions() == 0


def test_write_creates_one_entity_and_the_cookie_holds_only_the_signed_id(
    app: Flask, rpcs: RpcLog
) -> None:
    client = app.test_client()
    response = client.get("/set/color/blue")
    assert rpcs.calls == ["commit"]  # a new random id: a plain write, no transaction
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "blue" not in cookie
    sid = sid_of(client)
    assert len(sid) >= 43  # 32 random bytes, URL-safe base64
    entity = stored(sid)
    assert "blue" in entity.data
    assert entity.expires > datetime.now(UTC) + timedelta(days=30)
    assert "Cookie" in response.headers["Vary"]


def test_read_only_request_is_one_lookup(app: Flask, rpcs: RpcLog) -> None:
    client = app.test_client()
    client.get("/set/a/1")
    rpcs.clear()
    response = client.get("/get/a")
    assert response.text == "1"
    assert rpcs.calls == ["lookup"]
    assert "Set-Cookie" not in response.headers


def test_write_to_an_existing_session_is_one_transaction(app: Flask, rpcs: RpcLog) -> None:
    client = app.test_client()
    client.get("/set/a/1")
    rpcs.clear()
    client.get("/set/b/2")
    assert rpcs.calls.count("commit") == 1
    assert rpcs.calls.count("begin_transaction") == 1
    assert client.get("/all").get_json() == {"a": "'1'", "b": "'2'"}


def test_untouched_request_with_a_fresh_cookie_costs_nothing(app: Flask, rpcs: RpcLog) -> None:
    client = app.test_client()
    client.get("/set/a/1")
    rpcs.clear()
    response = client.get("/nothing")
    assert rpcs.calls == []
    assert "Set-Cookie" not in response.headers


def test_tagged_json_types_round_trip(app: Flask) -> None:
    client = app.test_client()
    client.get("/rich")
    # Tagged JSON stores keys sorted, so the dict comes back in sorted order.
    assert client.get("/all").get_json() == {
        "rich": repr(
            {
                "bytes": b"\x00\xff",
                "html": Markup("<b>x</b>"),
                "id": uuid.UUID(int=7),
                "tuple": (1, 2),
                "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            }
        )
    }
    assert "pickle" not in stored(sid_of(client)).data


@pytest.mark.parametrize(
    "mangle",
    [
        lambda v: v[:-3],
        lambda v: v[: len(v) // 2],
        lambda v: ("B" if v.startswith("A") else "A") + v[1:],  # always a change
        lambda v: v.split(".")[0],
        lambda v: "garbage",
        lambda v: "",
    ],
)
def test_tampered_or_truncated_cookie_gives_an_empty_session_without_a_lookup(
    app: Flask, rpcs: RpcLog, mangle: t.Callable[[str], str]
) -> None:
    client = app.test_client()
    client.get("/set/a/1")
    good = session_cookie(client)
    assert good is not None
    client.set_cookie("session", mangle(good))
    rpcs.clear()
    assert client.get("/get/a").text == "None"
    assert "lookup" not in rpcs.calls


def test_expired_session_is_empty(app: Flask) -> None:
    client = app.test_client()
    client.get("/set/a/1")
    sid = sid_of(client)
    with gae.ndb.get_client().context():
        entity = ndb.Key("Session", sid).get(use_cache=False)
        entity.expires = datetime.now(UTC) - timedelta(seconds=1)
        entity.put()
    assert client.get("/get/a").text == "None"


def test_old_secret_from_the_fallbacks_still_opens_the_session(app: Flask) -> None:
    client = app.test_client()
    client.get("/set/a/1")
    app.config["SECRET_KEY"] = "a-brand-new-secret-key-0123456789"
    assert client.get("/get/a").text == "None"
    app.config["SECRET_KEY_FALLBACKS"] = [SECRET]
    assert client.get("/get/a").text == "1"


def test_regenerate_at_login_invalidates_the_old_id(app: Flask) -> None:
    attacker = app.test_client()
    attacker.get("/set/planted/yes")
    planted = session_cookie(attacker)
    old_sid = sid_of(attacker)

    victim = app.test_client()
    assert planted is not None
    victim.set_cookie("session", planted)
    assert victim.get("/login").text == "logged in"
    new_sid = sid_of(victim)
    assert new_sid != old_sid
    assert victim.get("/get/user").text == "alice"
    assert victim.get("/get/planted").text == "yes"  # the data moves with the user
    assert stored(old_sid) is None
    # The attacker's copy of the old cookie no longer reaches the logged-in session.
    assert attacker.get("/get/user").text == "None"


def test_an_unknown_id_is_never_adopted(app: Flask) -> None:
    signer = t.cast(DatastoreSessionInterface, app.session_interface).signer(app)
    assert signer is not None
    client = app.test_client()
    client.set_cookie("session", signer.sign("attacker-chosen-id").decode())
    client.get("/set/a/1")
    assert sid_of(client) != "attacker-chosen-id"
    assert stored("attacker-chosen-id") is None


def test_destroy_removes_entity_and_cookie(app: Flask) -> None:
    client = app.test_client()
    client.get("/set/a/1")
    sid = sid_of(client)
    response = client.get("/logout")
    assert "session=;" in response.headers["Set-Cookie"]
    assert stored(sid) is None
    assert session_cookie(client) is None


def test_twenty_concurrent_requests_changing_different_keys_lose_nothing(app: Flask) -> None:
    first = app.test_client()
    first.get("/set/start/0")
    cookie = session_cookie(first)
    assert cookie is not None
    statuses: list[int] = []
    barrier = threading.Barrier(20, timeout=30)

    def worker(n: int) -> None:
        client = app.test_client()
        client.set_cookie("session", cookie)
        barrier.wait()
        statuses.append(client.get(f"/set/k{n}/{n}").status_code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [200] * 20
    data = first.get("/all").get_json()
    assert data == {"start": "'0'", **{f"k{n}": repr(str(n)) for n in range(20)}}


def test_a_key_changed_by_two_requests_ends_with_one_of_the_values(app: Flask) -> None:
    first = app.test_client()
    first.get("/set/shared/0")
    cookie = session_cookie(first)
    assert cookie is not None
    barrier = threading.Barrier(2, timeout=30)

    def worker(value: str) -> None:
        client = app.test_client()
        client.set_cookie("session", cookie)
        barrier.wait()
        client.get(f"/set/shared/{value}")

    threads = [threading.Thread(target=worker, args=(v,)) for v in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert first.get("/get/shared").text in {"left", "right"}


def test_too_large_a_session_raises_before_writing(app: Flask) -> None:
    client = app.test_client()
    client.get("/set/keep/me")
    sid = sid_of(client)
    before = stored(sid).data
    with pytest.raises(SessionTooLarge, match=r"over the .* bytes a Datastore entity"):
        client.get("/big")
    assert stored(sid).data == before
    assert client.get("/get/keep").text == "me"


def test_expiry_refresh_happens_at_most_once_per_interval(app: Flask, rpcs: RpcLog) -> None:
    client = app.test_client()
    client.get("/permanent")
    rpcs.clear()
    client.get("/get/p")
    client.get("/nothing")
    assert rpcs.calls == ["lookup"]  # within the interval: no refresh write
    app.config["SESSION_DATASTORE_REFRESH_INTERVAL"] = timedelta(0)
    rpcs.clear()
    response = client.get("/nothing")
    assert rpcs.calls.count("commit") == 1  # the expiry pushed forward, in a transaction
    assert "Expires=" in response.headers["Set-Cookie"]


def test_kind_and_namespace_settings(datastore_emulator: DatastoreEmulator) -> None:
    reload_settings()
    gae.ndb.set_client_factory(None)
    datastore_emulator.reset()
    app = build_app(SESSION_DATASTORE_KIND="WebSession", SESSION_DATASTORE_NAMESPACE="site-a")
    client = app.test_client()
    client.get("/set/a/1")
    sid = sid_of(client)
    assert stored(sid, "WebSession", "site-a") is not None
    assert stored(sid) is None


def test_sessions_work_in_an_app_that_never_imports_ndb(
    datastore_emulator: DatastoreEmulator,
) -> None:
    # A fresh interpreter: the app itself never imports google.cloud.ndb, so the adapter
    # opens no context per request; the session interface must open its own.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import gae\n"
        "from framework import Flask, session\n"
        "app = Flask('nondb')\n"
        "app.config['SECRET_KEY'] = 'k' * 40\n"
        "app.add_url_rule('/w', 'w', lambda: session.__setitem__('a', 1) or 'ok')\n"
        "app.add_url_rule('/r', 'r', lambda: str(session.get('a')))\n"
        "gae.wrap(app, sessions=True)\n"
        "assert 'google.cloud.ndb' not in sys.modules\n"
        "client = app.test_client()\n"
        "print(client.get('/w').status_code, client.get('/r').text)\n"
    )
    import os

    env = {**os.environ, **datastore_emulator.env}
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.stdout.split() == ["200", "1"], out.stderr
