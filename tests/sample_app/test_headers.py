"""Security headers of the noticeboard: a Content-Security-Policy its pages satisfy (no
inline script, style or handler anywhere), no framing, nosniff, HSTS and ``__Host-``
cookies on App Engine. (A real browser reporting no CSP violation: ``test_browser_e2e``.)"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Iterator

import pytest

import gae.ndb
from framework import Flask
from framework.testing import FlaskClient
from gae.emulators import DatastoreEmulator, StorageEmulator
from gae.settings import reload_settings

from .conftest import Users, csrf_from

HTTPS = "https://board.example"


def _directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def _pages(users: Users) -> Iterator[tuple[FlaskClient, str]]:
    """Every kind of page, as a visitor and as the author (forms, upload script, errors)."""
    client = users.signup("pager")
    post_id = users.post(client)
    visitor = users.app.test_client()
    for who in (visitor, client):
        for path in (
            "/",
            "/auth/login",
            "/auth/signup",
            "/new",
            f"/p/{post_id}",
            f"/p/{post_id}/edit",
            "/u/pager",
            "/nowhere",
            "/api/posts",
            "/static/style.css",
        ):
            yield who, path


def test_every_response_carries_the_policy_and_pages_satisfy_it(users: Users) -> None:
    seen_script = False
    for client, path in _pages(users):
        response = client.get(path, follow_redirects=True)
        headers = response.headers
        policy = _directives(headers["Content-Security-Policy"])
        assert policy["default-src"] == ["'self'"]
        assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
        assert policy["form-action"] == ["'self'"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in headers  # not on App Engine
        if response.mimetype != "text/html":
            continue
        page = response.text
        # What 'self' without 'unsafe-inline' forbids: inline scripts, styles, handlers.
        for tag in re.findall(r"<script\b[^>]*>", page):
            assert "src=" in tag, (path, tag)
            seen_script = True
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", page), path
        for url in re.findall(r'<(?:script|link|img)\b[^>]*(?:src|href)="([^"]+)"', page):
            assert url.startswith("/") and not url.startswith("//"), (path, url)
    assert seen_script  # the upload script was among the pages


def test_the_policy_lets_the_page_script_reach_the_upload_origin(
    app: Flask, gcs_emulator: StorageEmulator
) -> None:
    policy = _directives(app.test_client().get("/").headers["Content-Security-Policy"])
    assert policy["connect-src"] == ["'self'", gcs_emulator.url.rstrip("/")]
    app.config["GCS_SIGNED_URL_ENDPOINT"] = "https://uploads.example/storage/"
    policy = _directives(app.test_client().get("/").headers["Content-Security-Policy"])
    assert policy["connect-src"] == ["'self'", "https://uploads.example"]


@pytest.fixture
def on_app_engine(
    monkeypatch: pytest.MonkeyPatch,
    datastore_emulator: DatastoreEmulator,
    gcs_emulator: StorageEmulator,
) -> Iterator[Flask]:
    for key, value in {**datastore_emulator.env, **gcs_emulator.env}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GAE_ENV", "standard")
    monkeypatch.setenv("SECRET_KEY", "a-real-secret-from-secret-manager-0123456789")
    reload_settings()
    gae.ndb.set_client_factory(None)
    datastore_emulator.reset()
    from sample_app import create_app

    try:
        yield create_app({"TESTING": True, "UPLOAD_BUCKET": gcs_emulator.bucket})
    finally:
        monkeypatch.undo()
        reload_settings()
        gae.ndb.set_client_factory(None)


def _https(client: FlaskClient, method: str, path: str, **kwargs: t.Any) -> t.Any:
    return client.open(
        path,
        method=method,
        base_url=HTTPS,
        headers={"X-Forwarded-Proto": "https", **kwargs.pop("headers", {})},
        **kwargs,
    )


def _cookie_attributes(header: str) -> tuple[str, set[str]]:
    name = header.split("=", 1)[0]
    return name, {part.strip().lower() for part in header.split(";")[1:]}


def test_on_app_engine_hsts_and_host_prefixed_cookies(on_app_engine: Flask) -> None:
    client = on_app_engine.test_client()
    page = _https(client, "GET", "/auth/signup")
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    (visitor_cookie,) = page.headers.getlist("Set-Cookie")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = _https(
        client,
        "POST",
        "/auth/signup",
        data={"username": "hosted", "password": "correct horse", "csrf_token": token.group(1)},
    )
    assert response.status_code == 302, response.text
    cookies = response.headers.getlist("Set-Cookie")
    for header in [visitor_cookie, *cookies]:
        name, attributes = _cookie_attributes(header)
        # __Host-: Secure, Path=/, no Domain, or browsers drop the cookie.
        assert name.startswith("__Host-"), header
        assert {"secure", "path=/", "httponly"} <= attributes, header
        assert not any(a.startswith("domain=") for a in attributes), header
    names = {_cookie_attributes(h)[0] for h in cookies}
    assert "__Host-session" in names
    assert _https(client, "GET", "/api/session").get_json()["user"] == "hosted"


def test_locally_the_cookies_keep_plain_names(users: Users, client: FlaskClient) -> None:
    csrf_from(client, "/auth/login")
    assert client.get_cookie("csrf") is not None
    signed_up = users.signup("plain")
    assert signed_up.get_cookie("session") is not None
