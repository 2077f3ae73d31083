"""Security checks of the App Engine adapter: debug mode and the debugger cannot be on in
production, spoofed App Engine headers are ignored off App Engine, session cookies carry
the right flags, and secrets stay out of the JSON logs and error pages."""

from __future__ import annotations

import io
import json
import logging
import typing as t

import pytest
from werkzeug.debug import DebuggedApplication

from framework import Flask, jsonify, request, session, url_for
from gae import AppEngine, Settings, cron_only, setup_logging, task_only

ON_GAE = Settings.from_environ(
    {
        "GAE_ENV": "standard",
        "GOOGLE_CLOUD_PROJECT": "demo",
        "GAE_SERVICE": "default",
        "GAE_VERSION": "v1",
    }
)
SECRET = "a-real-secret-key-kept-in-secret-manager-0123456789"

#: Every client-sendable header App Engine owns (or a proxy would set), spoofed.
SPOOFED = {
    "X-Appengine-Cron": "true",
    "X-AppEngine-QueueName": "default",
    "X-AppEngine-TaskName": "t1",
    "X-AppEngine-TaskRetryCount": "0",
    "X-Appengine-User-IP": "203.0.113.66",
    "X-Appengine-Country": "NL",
    "X-Appengine-Region": "nh",
    "X-Appengine-City": "amsterdam",
    "X-Cloud-Trace-Context": "0123456789abcdef0123456789abcdef/1;o=1",
    "X-Forwarded-Proto": "https",
}


def make_app(**config: t.Any) -> Flask:
    app = Flask(__name__)
    app.config.update({"SECRET_KEY": SECRET, **config})

    @app.route("/info")
    def info() -> t.Any:
        h = request.appengine  # type: ignore[attr-defined]
        return jsonify(
            trusted=h.trusted,
            cron=h.is_cron,
            task=h.is_task,
            user_ip=h.user_ip,
            country=h.country,
            trace=h.trace_id,
            remote=request.remote_addr,
            secure=request.is_secure,
            external=url_for("info", _external=True),
        )

    @app.route("/cron")
    @cron_only
    def cron() -> str:
        return "ran"

    @app.route("/task")
    @task_only
    def task() -> str:
        return "ran"

    @app.route("/login", methods=["POST"])
    def login() -> str:
        session["user"] = "alice"
        return "ok"

    @app.route("/boom", methods=["GET", "POST"])
    def boom() -> str:
        session.get("user")
        raise RuntimeError("the database is down")

    return app


@pytest.fixture(autouse=True)
def offline_ndb_client(offline_ndb: None) -> None:
    """On App Engine the adapter opens an ndb context per request once ndb is imported
    (another test may have): the plugin's offline client, not a search for real ones."""


# -- debug mode and the debugger -----------------------------------------------------------


def test_debug_config_is_turned_off_on_app_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = make_app()
    assert app.debug is True  # FLASK_DEBUG asked for it
    AppEngine(app, settings=ON_GAE)
    assert app.debug is False
    app2 = make_app(DEBUG=True)
    AppEngine(app2, settings=ON_GAE)
    assert app2.debug is False


def test_debug_turned_on_after_start_is_off_again_for_the_next_request() -> None:
    app = make_app(PROPAGATE_EXCEPTIONS=None)
    AppEngine(app, settings=ON_GAE)
    app.debug = True  # e.g. a stray "app.debug = True" in a module imported later
    response = app.test_client().get("/boom")
    assert app.debug is False
    # Not propagated (which debug mode would do), no traceback, no debugger.
    assert response.status_code == 500
    assert "Traceback" not in response.text
    assert "the database is down" not in response.text


def test_the_interactive_debugger_is_removed_on_app_engine() -> None:
    app = make_app()
    app.wsgi_app = DebuggedApplication(app.wsgi_app, evalex=True)  # type: ignore[method-assign]
    AppEngine(app, settings=ON_GAE)
    client = app.test_client()
    response = client.get("/boom")
    assert response.status_code == 500
    assert "__debugger__" not in response.text and "Werkzeug Debugger" not in response.text
    resource = client.get("/", query_string={"__debugger__": "yes", "cmd": "resource", "f": "x"})
    assert resource.status_code == 404
    console = client.get("/console")
    assert console.status_code == 404


def test_the_sample_app_cannot_run_in_debug_on_app_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    from gae.settings import reload_settings

    monkeypatch.setenv("GAE_ENV", "standard")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo")
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.setenv("NOTICEBOARD_DEBUG", "true")
    monkeypatch.setenv("SECRET_KEY", SECRET)
    reload_settings()
    try:
        from sample_app import create_app

        app = create_app()
        assert app.debug is False
        assert app.config["SECRET_KEY"] == SECRET  # never the development key
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.extensions["appengine"].trust_headers is True
    finally:
        monkeypatch.undo()
        reload_settings()


@pytest.mark.parametrize("secret", ["changeme", "short-but-real"])
def test_refusing_a_weak_secret_does_not_echo_it(secret: str) -> None:
    with pytest.raises(RuntimeError) as error:
        AppEngine(make_app(SECRET_KEY=secret), settings=ON_GAE)
    assert secret not in str(error.value)


# -- spoofed App Engine headers --------------------------------------------------------------


@pytest.mark.parametrize(
    "environ",
    [
        {},  # a laptop, CI, any other host
        {"GAE_ENV": "localdev"},  # the App Engine dev server (dev_appserver.py)
        {"GAE_APPLICATION": "s~demo", "GOOGLE_CLOUD_PROJECT": "demo"},
        {"GAE_ENV": "flex"},
    ],
)
def test_spoofed_app_engine_headers_are_ignored_off_app_engine(environ: dict[str, str]) -> None:
    app = make_app()
    AppEngine(app, settings=Settings.from_environ(environ))
    client = app.test_client()
    data = client.get("/info", headers=SPOOFED, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert data.get_json() == {
        "trusted": False,
        "cron": False,
        "task": False,
        "user_ip": None,
        "country": None,
        "trace": None,
        "remote": "198.51.100.7",
        "secure": False,
        "external": "http://localhost/info",
    }
    assert client.get("/cron", headers=SPOOFED).status_code == 403
    assert client.get("/task", headers=SPOOFED).status_code == 403


def test_app_engine_headers_are_believed_on_app_engine() -> None:
    # The positive control: the same request is trusted where App Engine sets the headers.
    app = make_app()
    AppEngine(app, settings=ON_GAE)
    client = app.test_client()
    data = client.get("/info", headers=SPOOFED).get_json()
    assert (data["trusted"], data["cron"], data["remote"], data["secure"]) == (
        True,
        True,
        "203.0.113.66",
        True,
    )
    assert client.get("/cron", headers=SPOOFED).text == "ran"


# -- cookie flags ----------------------------------------------------------------------------


def _cookie_attributes(header: str) -> set[str]:
    """``"s=v; Secure; Path=/"`` -> ``{"secure", "path=/"}``."""
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_session_cookie_is_secure_httponly_and_lax_on_app_engine() -> None:
    app = make_app()
    AppEngine(app, settings=ON_GAE)
    response = app.test_client().post("/login", base_url="https://demo.appspot.com")
    (cookie,) = response.headers.getlist("Set-Cookie")
    attributes = _cookie_attributes(cookie)
    assert {"secure", "httponly", "samesite=lax"} <= attributes, cookie
    # Host-only: never sent to other apps under appspot.com.
    assert not [a for a in attributes if a.startswith("domain=")]


def test_stricter_cookie_settings_are_kept_and_missing_ones_forced() -> None:
    app = make_app(SESSION_COOKIE_SAMESITE="Strict")
    AppEngine(app, settings=ON_GAE)
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"
    assert app.config["SESSION_COOKIE_SECURE"] is True


# -- secrets in logs and error pages ---------------------------------------------------------


def test_secrets_never_appear_in_json_logs_or_error_pages() -> None:
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    AppEngine(app, settings=ON_GAE)
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = setup_logging(json_format=True, stream=stream, settings=ON_GAE)
    try:
        client = app.test_client()
        client.post("/login", base_url="https://demo.appspot.com")
        cookie = client.get_cookie("session", domain="demo.appspot.com")
        assert cookie is not None
        secrets = [SECRET, cookie.value, "hunter2-password", "Bearer tok-123"]
        pages = []
        for method in ("GET", "POST"):
            response = client.open(
                "/boom",
                method=method,
                base_url="https://demo.appspot.com",
                data={"password": "hunter2-password"},
                headers={"Authorization": "Bearer tok-123", **SPOOFED},
                query_string={"token": "hunter2-password"},
            )
            assert response.status_code == 500
            pages.append(response.text)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    errors = [entry for entry in lines if entry["severity"] == "ERROR"]
    assert len(errors) == 2
    assert "RuntimeError: the database is down" in errors[0]["message"]  # logged, traced
    assert errors[0]["logging.googleapis.com/trace"].endswith("0123456789abcdef0123456789abcdef")
    logged = stream.getvalue()
    for secret in secrets:
        assert secret not in logged
        for page in pages:
            assert secret not in page
