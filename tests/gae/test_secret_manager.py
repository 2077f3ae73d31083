"""SECRET_KEY from the environment, or from Secret Manager on App Engine.

Secret Manager has no emulator; a loopback HTTP server answers the two calls the loader
makes (the metadata server's token and the secret's ``:access``) as Google's do.
"""

from __future__ import annotations

import base64
import json
import threading
import typing as t
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gae.secret_manager import SecretUnavailable, load_secret_key
from gae.settings import Settings

ON_APP_ENGINE = Settings.from_environ({"GAE_ENV": "standard", "GOOGLE_CLOUD_PROJECT": "proj"})
LOCAL = Settings.from_environ({})


@pytest.fixture
def google() -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    seen: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, dict(self.headers)))
            if self.path == "/token":
                body: dict[str, t.Any] = {"access_token": "tok", "expires_in": 3599}
            elif self.path == "/v1/projects/proj/secrets/secret-key/versions/latest:access":
                body = {"payload": {"data": base64.b64encode(b"s3cr3t-from-sm").decode()}}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_environment_variable_wins() -> None:
    env = {"SECRET_KEY": "from-env-0123456789"}
    assert load_secret_key(settings=ON_APP_ENGINE, environ=env) == "from-env-0123456789"


def test_locally_without_variable_there_is_no_key() -> None:
    assert load_secret_key(settings=LOCAL, environ={}) is None


def test_on_app_engine_the_key_comes_from_secret_manager(
    google: tuple[str, list[tuple[str, dict[str, str]]]],
) -> None:
    url, seen = google
    key = load_secret_key(
        settings=ON_APP_ENGINE, environ={}, token_url=f"{url}/token", api_url=f"{url}/v1"
    )
    assert key == "s3cr3t-from-sm"
    assert seen[0][1]["Metadata-Flavor"] == "Google"
    assert seen[1][1]["Authorization"] == "Bearer tok"


def test_missing_secret_says_how_to_create_it(
    google: tuple[str, list[tuple[str, dict[str, str]]]],
) -> None:
    url, _ = google
    with pytest.raises(SecretUnavailable, match="gcloud secrets create other"):
        load_secret_key(
            settings=ON_APP_ENGINE,
            environ={"SECRET_KEY_SECRET_ID": "other"},
            token_url=f"{url}/token",
            api_url=f"{url}/v1",
        )
