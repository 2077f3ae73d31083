"""Security checks of the noticeboard, against the emulators: ``next`` only leads to local
paths, session fixation, CSRF on every state-changing route, cookie flags, spoofed App
Engine headers, and secrets in logs and error pages (uploads: ``test_security_uploads``)."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import typing as t
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gae.ndb
from framework import Flask
from framework.testing import FlaskClient
from gae import setup_logging
from gae.emulators import DatastoreEmulator, StorageEmulator
from gae.sessions.store import session_model
from gae.settings import reload_settings
from sample_app.security import safe_next

from .conftest import Users, csrf_from

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SITE = "site.example"


# -- next: local paths only ------------------------------------------------------------


def browser_host(location: str) -> str | None:
    """The host a browser goes to for ``Location: location`` on https://site.example/.

    The WHATWG URL parser strips leading and trailing C0 controls and spaces, removes tabs
    and newlines anywhere, and treats ``\\`` as ``/`` in http(s) URLs; ``None`` for a URL
    with a scheme (never local in this model).
    """
    text = location.strip("".join(chr(c) for c in range(0x21)))
    text = re.sub(r"[\t\n\r]", "", text).replace("\\", "/")
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", text):
        return None
    if text.startswith("//"):
        return urlsplit("https:" + text).hostname or ""
    return SITE


NEXT_PIECES = st.sampled_from(
    [
        "/",
        "//",
        "\\",
        "/\\",
        "\t",
        "\n",
        "\r",
        " ",
        "\x00",
        "\x0b",
        "%2f",
        "%5c",
        ":",
        "@",
        "evil.example",
        "u/erin",
        "https:",
        "javascript:",
        "?",
        "#",
        ".",
        "..",
        "\u3002",
        "\uff0f",
    ]
)


@settings(max_examples=1500, deadline=None, derandomize=True, database=None)
@given(st.lists(NEXT_PIECES, min_size=1, max_size=6).map("".join))
def test_safe_next_only_returns_paths_on_this_site(target: str) -> None:
    result = safe_next(target, "/")
    assert result in {"/", target}
    assert result.startswith("/")
    assert "\r" not in result and "\n" not in result  # it goes into a Location header
    assert browser_host(result) == SITE, target


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "\t//evil.example",
        " //evil.example",
        "/%0a/evil.example",
        "https:evil.example",
        "HTTPS://evil.example",
        "\\\\evil.example",
        "/\r\nSet-Cookie: x=1",
    ],
)
def test_login_never_redirects_off_site(users: Users, client: FlaskClient, target: str) -> None:
    users.signup("erin")
    token = csrf_from(client)
    response = client.post(
        "/auth/login",
        data={"username": "erin", "password": "correct horse", "csrf_token": token, "next": target},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert browser_host(location) == SITE, location
    assert "Set-Cookie: x" not in str(response.headers)


# -- session fixation ------------------------------------------------------------------


def _who(client: FlaskClient) -> str | None:
    return t.cast("str | None", client.get("/api/session").get_json()["user"])


def _session_ids(app: Flask) -> set[str]:
    model = session_model("Session")
    with gae.ndb.get_client().context():
        return {key.id() for key in model.query().fetch(keys_only=True)}


@pytest.mark.parametrize("how", ["login", "signup"])
def test_a_session_planted_before_login_is_worthless_after_it(
    users: Users, app: Flask, how: str
) -> None:
    if how == "login":
        users.signup("victim")
    # An anonymous visitor has no server-side session to plant (its CSRF token is in a
    # cookie): the attacker plants one of their own account's sessions.
    attacker = users.signup("attacker")
    planted = attacker.get_cookie("session")
    assert planted is not None
    assert planted.value.split(".")[0] in _session_ids(app)
    victim = app.test_client()
    victim.set_cookie("session", planted.value)  # fixed into the victim's browser
    token = csrf_from(victim, f"/auth/{how}")
    response = victim.post(
        f"/auth/{how}",
        data={"username": "victim", "password": "correct horse", "csrf_token": token},
    )
    assert response.status_code == 302
    issued = victim.get_cookie("session")
    assert issued is not None and issued.value != planted.value
    assert _who(victim) == "victim"
    assert _who(attacker) is None  # the planted id does not log the attacker in
    assert planted.value.split(".")[0] not in _session_ids(app)


def test_a_forged_session_id_is_never_adopted(users: Users, app: Flask) -> None:
    users.signup("victim")
    client = app.test_client()
    client.set_cookie("session", "attacker-chosen-id")
    token = csrf_from(client)
    client.post(
        "/auth/login",
        data={"username": "victim", "password": "correct horse", "csrf_token": token},
    )
    issued = client.get_cookie("session")
    assert issued is not None
    assert "attacker-chosen-id" not in issued.value
    assert "attacker-chosen-id" not in _session_ids(app)


def test_logout_destroys_the_server_side_session(users: Users, app: Flask) -> None:
    client = users.signup("leaver")
    cookie = client.get_cookie("session")
    assert cookie is not None
    token = csrf_from(client, "/")
    client.post("/auth/logout", data={"csrf_token": token})
    assert cookie.value.split(".")[0] not in _session_ids(app)
    replay = app.test_client()
    replay.set_cookie("session", cookie.value)  # a copy of the cookie taken before logout
    assert _who(replay) is None


# -- CSRF ------------------------------------------------------------------------------

CSRF_EXEMPT = {"_ah_warmup", "gae_session_cleanup", "gae_storage_cleanup", "gae_tasks_run"}


def _state_changing_urls(app: Flask, post_id: int) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}
        if not methods or rule.endpoint in CSRF_EXEMPT:
            continue
        values = {arg: post_id if arg == "post_id" else 1 for arg in rule.arguments}
        with app.test_request_context():
            from framework import url_for

            url = url_for(rule.endpoint, **values)
        out += [(method, url) for method in sorted(methods)]
    return out


def _counts(app: Flask) -> tuple[int, ...]:
    from sample_app.models import Attachment, Post, User

    with gae.ndb.get_client().context():
        return tuple(m.query().count() for m in (User, Post, Attachment))


def test_every_state_changing_route_requires_the_csrf_token(users: Users, app: Flask) -> None:
    client = users.signup("mallory")
    post_id = users.post(client)
    other = users.signup("other")
    foreign = csrf_from(other, "/")  # a valid token, of another session
    urls = _state_changing_urls(app, post_id)
    assert ("POST", "/new") in urls and ("DELETE", f"/api/posts/{post_id}") in urls
    before = _counts(app)
    for method, url in urls:
        for headers, form in [
            ({}, {"title": "t", "text": "x"}),
            ({"X-CSRF-Token": foreign}, {"title": "t"}),
            ({}, {"csrf_token": foreign, "title": "t", "text": "x"}),
            ({"X-CSRF-Token": ""}, {"csrf_token": ""}),
        ]:
            response = client.open(url, method=method, headers=headers, data=form)
            assert response.status_code == 400, (method, url, headers)
            assert "security token" in response.text
    assert _counts(app) == before
    assert _who(client) == "mallory"  # the logout route refused too


def test_csrf_token_is_not_taken_from_the_query_string(users: Users) -> None:
    client = users.signup("quinn")
    token = csrf_from(client, "/new")
    response = client.post("/new", query_string={"csrf_token": token}, data={"title": "t"})
    assert response.status_code == 400
    # The same token where it belongs passes (the positive control).
    ok = client.post("/new", data={"title": "t", "text": "x", "csrf_token": token})
    assert ok.status_code == 302
    api = client.post(
        "/api/posts", json={"title": "t", "text": "x"}, headers={"X-CSRF-Token": token}
    )
    assert api.status_code == 201


def test_only_warmup_and_the_cron_route_skip_csrf_and_cron_refuses_spoofs(
    client: FlaskClient, app: Flask
) -> None:
    exempt = {r.endpoint for r in app.url_map.iter_rules()} & CSRF_EXEMPT
    assert exempt == CSRF_EXEMPT
    spoofed = {"X-Appengine-Cron": "true", "X-AppEngine-QueueName": "default"}
    for method in ("GET", "POST"):
        for url in ("/tasks/session-cleanup", "/tasks/upload-cleanup"):
            response = client.open(url, method=method, headers=spoofed)
            assert response.status_code == 403


# -- cookie flags ------------------------------------------------------------------------


def _attributes(set_cookie: str) -> set[str]:
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


def _set_cookies(response: t.Any, name: str) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]


def test_session_cookie_flags_and_contents_locally(users: Users) -> None:
    client = users.signup("colin")
    token = csrf_from(client, "/")
    response = client.post("/auth/logout", data={"csrf_token": token})
    login = users.app.test_client()
    token = csrf_from(login)
    response = login.post(
        "/auth/login", data={"username": "colin", "password": "correct horse", "csrf_token": token}
    )
    (header,) = _set_cookies(response, "session")
    attributes = _attributes(header)
    assert {"httponly", "samesite=lax", "path=/"} <= attributes
    assert not [a for a in attributes if a.startswith("domain=")]
    value = header.split(";")[0].split("=", 1)[1]
    # Only a signed random id: nothing about the user is in the cookie.
    assert "colin" not in value.lower()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", value)


def test_session_cookie_is_secure_on_app_engine(
    monkeypatch: pytest.MonkeyPatch,
    datastore_emulator: DatastoreEmulator,
    gcs_emulator: StorageEmulator,
) -> None:
    monkeypatch.setenv("GAE_ENV", "standard")
    monkeypatch.setenv("SECRET_KEY", "a-real-secret-from-secret-manager-0123456789")
    reload_settings()
    gae.ndb.set_client_factory(None)
    try:
        from sample_app import create_app

        app = create_app({"TESTING": True, "UPLOAD_BUCKET": gcs_emulator.bucket})
        client = app.test_client()
        https = {"base_url": "https://board.example", "headers": {"X-Forwarded-Proto": "https"}}
        token = csrf_from_https(client)
        response = client.post(
            "/auth/signup",
            data={"username": "sally", "password": "correct horse", "csrf_token": token},
            **https,  # type: ignore[arg-type]
        )
        assert response.status_code == 302, response.text
        (header,) = _set_cookies(response, "__Host-session")
        assert {"secure", "httponly", "samesite=lax", "path=/"} <= _attributes(header)
    finally:
        monkeypatch.undo()
        reload_settings()
        gae.ndb.set_client_factory(None)


def csrf_from_https(client: FlaskClient) -> str:
    page = client.get("/auth/signup", base_url="https://board.example").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


# -- secrets in logs and error pages -----------------------------------------------------


def _dead_datastore_client(project: str) -> t.Callable[[], t.Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed

    def factory() -> t.Any:
        import os

        from google.auth.credentials import AnonymousCredentials
        from google.cloud import ndb

        saved = os.environ.get("DATASTORE_EMULATOR_HOST")
        os.environ["DATASTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        try:
            return ndb.Client(project=project, credentials=AnonymousCredentials())
        finally:
            if saved is not None:
                os.environ["DATASTORE_EMULATOR_HOST"] = saved

    return factory


def test_secrets_never_appear_in_logs_or_error_pages(
    app: Flask,
    users: Users,
    datastore_emulator: DatastoreEmulator,
    gcs_emulator: StorageEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sample_app import create_app

    live = create_app(
        {
            "TESTING": False,
            "PROPAGATE_EXCEPTIONS": False,
            "UPLOAD_BUCKET": gcs_emulator.bucket,
            "SESSION_DATASTORE_TIMEOUT": 1.0,
            "SECRET_KEY": "a-real-secret-key-for-this-test-0123456789",
        }
    )

    @live.route("/boom", methods=["GET", "POST"])
    def boom() -> str:
        raise RuntimeError("the view failed")

    secret_key = str(live.config["SECRET_KEY"])
    client = Users(live).signup("sam", password="hunter2-password")
    cookie = client.get_cookie("session")
    assert cookie is not None
    token = csrf_from(client, "/")
    secrets = [secret_key, cookie.value, cookie.value.split(".")[0], token, "hunter2-password"]
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = setup_logging(json_format=True, stream=stream)
    pages = []
    try:
        with caplog.at_level(logging.DEBUG):
            for method, path, data in [
                ("GET", "/boom", None),
                ("POST", "/boom", {"password": "hunter2-password", "csrf_token": token}),
                ("POST", "/new", {"password": "hunter2-password"}),  # CSRF 400
                ("GET", "/nowhere", None),
                ("DELETE", "/", None),
            ]:
                response = client.open(
                    path, method=method, data=data, headers={"Authorization": f"Bearer {token}"}
                )
                assert response.status_code >= 400
                pages.append(response.text)
            failed = users.app.test_client()  # a login with the wrong password
            failed.post("/auth/login", data={"username": "sam", "password": "hunter2-password"})
            # Datastore down: the session cannot be read, the request gets a 503.
            gae.ndb.set_client_factory(_dead_datastore_client(datastore_emulator.project))
            response = client.get("/")
            assert response.status_code == 503
            pages.append(response.text)
    finally:
        gae.ndb.set_client_factory(None)
        root.removeHandler(handler)
        root.setLevel(level)
    logged = caplog.text + stream.getvalue()
    assert "RuntimeError: the view failed" in logged
    assert "Datastore failed while reading a session" in logged
    for entry in stream.getvalue().splitlines():
        json.loads(entry)
    for secret in secrets:
        assert secret not in logged
    for secret in [secret_key, cookie.value, cookie.value.split(".")[0], "hunter2-password"]:
        for page in pages:  # (the CSRF token is in the logged-in layout, by design)
            assert secret not in page
