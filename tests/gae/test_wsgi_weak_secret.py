"""A weak SECRET_KEY (unset, a placeholder, too short) serves only this machine, anywhere.

App Engine refuses to start with one; everywhere else (Cloud Run, App Engine flexible, a VM
running the same gunicorn line) the app cannot tell production from a laptop by its
environment, so it tells by the request: a weak key answers loopback clients addressing a
loopback host name, without a proxy in between, and refuses everyone else.
"""

from __future__ import annotations

import logging

import pytest

from framework import Flask, session
from gae import AppEngine, Settings

LOCAL = Settings.from_environ({})
CLOUD_RUN = Settings.from_environ({"K_SERVICE": "web", "GOOGLE_CLOUD_PROJECT": "demo"})
FLEXIBLE = Settings.from_environ({"GAE_ENV": "flex", "GAE_SERVICE": "default"})
WEAK = [None, "", "dev", "changeme", b"secret", "short-but-real"]
REAL = "0123456789abcdef0123456789abcdef"


def make_app(secret: object, settings: Settings = LOCAL, **config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secret, **config)

    @app.route("/")
    def index() -> str:
        if app.secret_key:
            session["seen"] = True
        return "served"

    AppEngine(app, settings=settings)
    return app


#: Requests that do not come from this machine, or come through a proxy.
REMOTE: list[tuple[dict[str, str], dict[str, str], str]] = [
    ({"REMOTE_ADDR": "203.0.113.9"}, {}, "http://localhost/"),
    ({"REMOTE_ADDR": "10.0.0.7"}, {}, "http://10.0.0.1:8080/"),
    ({"REMOTE_ADDR": "169.254.8.1"}, {"X-Forwarded-For": "198.51.100.7"}, "http://localhost/"),
    # A proxy on the same machine: the peer is loopback, the client is not.
    ({}, {"X-Forwarded-For": "198.51.100.7"}, "http://localhost/"),
    ({}, {"Forwarded": "for=198.51.100.7"}, "http://localhost/"),
    ({}, {"X-Real-IP": "198.51.100.7"}, "http://localhost/"),
    ({}, {"X-Forwarded-Host": "board.example"}, "http://localhost/"),
    # DNS rebinding: a page on another site reaching the local server by a name of its own.
    ({}, {}, "http://rebind.example:8080/"),
    ({"REMOTE_ADDR": "::ffff:203.0.113.9"}, {}, "http://localhost/"),
]

#: This machine talking to itself.
LOCAL_REQUESTS: list[tuple[dict[str, str], str]] = [
    ({}, "http://localhost/"),
    ({"REMOTE_ADDR": "127.0.0.1"}, "http://127.0.0.1:8080/"),
    ({"REMOTE_ADDR": "127.0.1.1"}, "http://app.localhost:5000/"),
    ({"REMOTE_ADDR": "::1"}, "http://[::1]:8080/"),
    ({"REMOTE_ADDR": "::ffff:127.0.0.1"}, "http://localhost:8080/"),
]


@pytest.mark.parametrize("secret", WEAK)
@pytest.mark.parametrize("settings", [LOCAL, CLOUD_RUN, FLEXIBLE], ids=["local", "run", "flex"])
def test_a_weak_secret_answers_only_this_machine(secret: object, settings: Settings) -> None:
    client = make_app(secret, settings).test_client()
    for environ, base_url in LOCAL_REQUESTS:
        response = client.get("/", base_url=base_url, environ_base=environ)
        assert response.status_code == 200, (environ, base_url)
        assert response.text == "served"
    for environ, headers, base_url in REMOTE:
        response = client.get("/", base_url=base_url, environ_base=environ, headers=headers)
        assert response.status_code == 403, (environ, headers, base_url)
        assert "SECRET_KEY" in response.text and "Secret Manager" in response.text
        assert "Set-Cookie" not in response.headers
        assert response.text != "served"


def test_a_real_secret_answers_everyone() -> None:
    client = make_app(REAL, CLOUD_RUN).test_client()
    for environ, headers, base_url in REMOTE:
        response = client.get("/", base_url=base_url, environ_base=environ, headers=headers)
        assert response.status_code == 200, (environ, headers, base_url)


def test_the_secret_is_judged_when_requests_come_not_only_at_wrap_time() -> None:
    app = make_app(REAL)
    client = app.test_client()
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/", environ_base=remote).status_code == 200
    app.config["SECRET_KEY"] = "dev"  # replaced after gae.wrap: judged again
    assert client.get("/", environ_base=remote).status_code == 403
    app.config["SECRET_KEY"] = REAL
    assert client.get("/", environ_base=remote).status_code == 200


def test_a_refusal_is_logged_once_without_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    client = make_app("changeme").test_client()
    with caplog.at_level(logging.WARNING, logger="gae"):
        for _ in range(3):
            client.get("/", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    refusals = [r for r in caplog.records if "SECRET_KEY" in r.getMessage()]
    assert len(refusals) == 1
    assert "203.0.113.9" in refusals[0].getMessage()
    assert "changeme" not in caplog.text


def test_an_in_process_call_is_local_and_a_unix_socket_peer_is_not() -> None:
    app = make_app("dev")
    statuses: list[str] = []

    def call(**environ: str) -> str:
        base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "localhost"}
        base.update(SERVER_PORT="80", SERVER_PROTOCOL="HTTP/1.1", HTTP_HOST="localhost")
        base["wsgi.url_scheme"] = "http"
        body = app({**base, **environ}, lambda status, headers, exc=None: statuses.append(status))
        b"".join(body)
        return statuses[-1]

    # No REMOTE_ADDR at all: called in this process (a benchmark, a test).
    assert call() == "200 OK"
    # gunicorn's REMOTE_ADDR behind nginx on a Unix socket, which sends Host: localhost.
    assert call(REMOTE_ADDR="") == "403 Forbidden"
    assert call(REMOTE_ADDR="127.0.0.1") == "200 OK"


def test_trusted_app_engine_headers_do_not_make_a_request_local() -> None:
    # With GAE_TRUST_HEADERS the client address comes from X-Appengine-User-IP; the
    # decision is made on the real peer, before any header is believed.
    client = make_app("dev", GAE_TRUST_HEADERS=True).test_client()
    spoof = {"X-Appengine-User-IP": "127.0.0.1"}
    remote = client.get("/", environ_base={"REMOTE_ADDR": "203.0.113.9"}, headers=spoof)
    assert remote.status_code == 403
    assert client.get("/", headers={"X-Appengine-User-IP": "203.0.113.9"}).status_code == 200
