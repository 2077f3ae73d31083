"""gae.wrap: trusted headers, proxy scheme, warmup and production safety (no emulator)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.debug import DebuggedApplication

import gae
from framework import Flask, jsonify, request, session, url_for
from gae import AppEngine, Settings, cron_only, task_only

ON_GAE = Settings.from_environ(
    {"GAE_ENV": "standard", "GOOGLE_CLOUD_PROJECT": "demo", "GAE_SERVICE": "web"}
)
LOCAL = Settings.from_environ({})
SECRET = "0123456789abcdef0123456789abcdef"


def make_app(settings: Settings, **config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, **config)

    @app.route("/info")
    def info() -> object:
        h = request.appengine  # type: ignore[attr-defined]
        return jsonify(
            trusted=h.trusted,
            cron=h.is_cron,
            queue=h.queue_name,
            task=h.task_name,
            ip=h.user_ip,
            country=h.country,
            trace=h.trace_id,
            remote=request.remote_addr,
            external=url_for("info", _external=True),
        )

    @app.route("/cron")
    @cron_only
    def cron() -> str:
        return "cron ran"

    @app.route("/task")
    @task_only
    def task() -> str:
        return "task ran"

    @app.route("/async-cron")
    @cron_only
    async def async_cron() -> str:
        return "async cron ran"

    @app.route("/login")
    def login() -> str:
        session["user"] = "u1"
        return "ok"

    AppEngine(app, settings=settings)
    return app


GAE_HEADERS = {
    "X-Appengine-Cron": "true",
    "X-AppEngine-QueueName": "default",
    "X-AppEngine-TaskName": "t-1",
    "X-Appengine-User-IP": "203.0.113.9",
    "X-Appengine-Country": "NL",
    "X-Cloud-Trace-Context": "0123456789abcdef0123456789abcdef/42;o=1",
    "X-Forwarded-Proto": "https",
}


def test_headers_are_trusted_on_app_engine() -> None:
    data = make_app(ON_GAE).test_client().get("/info", headers=GAE_HEADERS).get_json()
    assert data == {
        "trusted": True,
        "cron": True,
        "queue": "default",
        "task": "t-1",
        "ip": "203.0.113.9",
        "country": "NL",
        "trace": "0123456789abcdef0123456789abcdef",
        "remote": "203.0.113.9",
        "external": "https://localhost/info",
    }


def test_spoofed_headers_are_ignored_off_app_engine() -> None:
    data = make_app(LOCAL).test_client().get("/info", headers=GAE_HEADERS).get_json()
    assert data == {
        "trusted": False,
        "cron": False,
        "queue": None,
        "task": None,
        "ip": None,
        "country": None,
        "trace": None,
        "remote": "127.0.0.1",
        "external": "http://localhost/info",
    }


def test_development_setting_trusts_headers_off_app_engine() -> None:
    app = make_app(LOCAL, GAE_TRUST_HEADERS=True)
    data = app.test_client().get("/info", headers=GAE_HEADERS).get_json()
    assert data["trusted"] is True
    assert data["cron"] is True


@pytest.mark.parametrize("path", ["/cron", "/async-cron"])
def test_cron_only(path: str) -> None:
    client = make_app(ON_GAE).test_client()
    assert client.get(path, headers={"X-Appengine-Cron": "true"}).status_code == 200
    denied = client.get(path)
    assert denied.status_code == 403
    assert "App Engine Cron" in denied.text
    # Off App Engine the header proves nothing.
    spoofed = make_app(LOCAL).test_client().get(path, headers={"X-Appengine-Cron": "true"})
    assert spoofed.status_code == 403


def test_task_only() -> None:
    client = make_app(ON_GAE).test_client()
    assert client.get("/task", headers={"X-AppEngine-QueueName": "q"}).text == "task ran"
    assert client.get("/task", headers={"X-Appengine-Cron": "true"}).status_code == 403
    spoofed = make_app(LOCAL).test_client().get("/task", headers={"X-AppEngine-QueueName": "q"})
    assert spoofed.status_code == 403


def test_traceparent_is_understood() -> None:
    headers = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    data = make_app(ON_GAE).test_client().get("/info", headers=headers).get_json()
    assert data["trace"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_warmup_runs_hooks_once() -> None:
    app = Flask(__name__)
    ext = AppEngine(app, settings=LOCAL)
    calls: list[str] = []
    ext.warmup(lambda: calls.append("hook"))
    client = app.test_client()
    first = client.get("/_ah/warmup")
    second = client.get("/_ah/warmup")
    assert (first.status_code, first.text) == (200, "warmed up")
    assert (second.status_code, second.text) == (200, "already warm")
    assert calls == ["hook"]


def test_warmup_compiles_templates(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text("<p>{{ x }}</p>", encoding="utf-8")
    app = Flask(__name__, root_path=str(tmp_path))
    AppEngine(app, settings=LOCAL)
    app.test_client().get("/_ah/warmup")
    # Compiled templates sit in the environment's cache.
    assert any(key[1] == "page.html" for key in app.jinja_env.cache)  # type: ignore[union-attr]


@pytest.mark.parametrize("secret", [None, "", "dev", "changeme", "secret", b"test"])
def test_app_engine_refuses_missing_or_placeholder_secret(secret: object) -> None:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secret
    with pytest.raises(RuntimeError, match="Secret Manager"):
        AppEngine(app, settings=ON_GAE)


def test_app_engine_refuses_short_secret() -> None:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "short-but-real"
    with pytest.raises(RuntimeError, match="at least 16"):
        AppEngine(app, settings=ON_GAE)


def test_app_engine_forces_debug_off_and_removes_the_debugger() -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, DEBUG=True)
    app.wsgi_app = DebuggedApplication(app.wsgi_app, evalex=True)  # type: ignore[method-assign]

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    AppEngine(app, settings=ON_GAE)
    assert app.debug is False
    app.config["DEBUG"] = True  # turned on again later: still forced off per request
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert app.debug is False


def test_session_cookie_is_secure_httponly_lax_on_app_engine() -> None:
    response = make_app(ON_GAE).test_client().get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_session_cookie_flags_are_left_alone_off_app_engine() -> None:
    cookie = make_app(LOCAL).test_client().get("/login").headers["Set-Cookie"]
    assert "Secure" not in cookie
    assert "SameSite" not in cookie


def test_wrap_returns_the_same_app() -> None:
    app = Flask(__name__)
    assert gae.wrap(app, settings=LOCAL) is app
    assert isinstance(app.extensions["appengine"], AppEngine)


def test_an_app_without_datastore_never_imports_ndb() -> None:
    code = (
        "import sys\n"
        "import gae\n"
        "from framework import Flask\n"
        "app = gae.wrap(Flask('demo'))\n"
        "app.add_url_rule('/', 'i', lambda: 'hi')\n"
        "assert app.test_client().get('/').text == 'hi'\n"
        "assert app.test_client().get('/_ah/warmup').status_code == 200\n"
        "print(sorted(m for m in sys.modules if m.startswith('google')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
