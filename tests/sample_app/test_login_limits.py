"""Login rate limits: per (username, client) and per client, so that guessing stops and
nobody can lock an account's owner out; the records they leave expire and App Engine Cron
deletes them. (Concurrent attempts: ``test_accounts_concurrency``.)"""

from __future__ import annotations

import typing as t
from datetime import timedelta

import pytest

import gae.ndb
from framework import Flask
from gae.emulators import StorageEmulator

from .conftest import Users, csrf_from

PASSWORD = "correct horse"


def _attempt(
    app: Flask,
    username: str,
    password: str,
    *,
    remote: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> int:
    client = app.test_client()
    token = csrf_from(client, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": remote},
        headers=headers or {},
    )
    if response.status_code == 429:
        assert "Too many" in response.text
        assert response.headers["Retry-After"].isdigit()
    return response.status_code


def _records() -> list[t.Any]:
    from sample_app.models import LoginAttempts

    with gae.ndb.get_client().context():
        return list(LoginAttempts.query().fetch())


def test_guessing_from_one_client_stops_it_but_never_locks_the_owner_out(
    users: Users, app: Flask
) -> None:
    users.signup("owner")
    guesser = "127.0.0.2"  # (a loopback address: the app runs with its development key)
    assert [_attempt(app, "owner", f"guess {i}", remote=guesser) for i in range(5)] == [400] * 5
    # The guesser is stopped, even with the right password ...
    assert _attempt(app, "owner", "guess 6", remote=guesser) == 429
    assert _attempt(app, "owner", PASSWORD, remote=guesser) == 429
    # ... and the owner, on another client, is not.
    assert _attempt(app, "owner", PASSWORD, remote="127.0.0.3") == 302


def test_spraying_many_names_from_one_client_stops(users: Users, app: Flask) -> None:
    from sample_app.limits import PER_CLIENT

    users.signup("someone")
    sprayer = "127.0.0.4"
    statuses = [_attempt(app, f"name{i}", "Password1", remote=sprayer) for i in range(PER_CLIENT)]
    assert statuses == [400] * PER_CLIENT
    assert _attempt(app, "another-name", "Password1", remote=sprayer) == 429
    assert _attempt(app, "someone", PASSWORD, remote=sprayer) == 429
    assert _attempt(app, "someone", PASSWORD, remote="127.0.0.5") == 302


def test_a_successful_login_forgets_its_failures(users: Users, app: Flask) -> None:
    users.signup("forgetful")
    for _ in range(3):
        for i in range(4):
            assert _attempt(app, "forgetful", f"wrong {i}") == 400
        assert _attempt(app, "forgetful", PASSWORD) == 302  # 4 + 1 each round: never 429
    assert _attempt(app, "forgetful", "wrong") == 400


@pytest.fixture
def trusting_app(app: Flask, gcs_emulator: StorageEmulator) -> Flask:
    """The app believing X-Appengine-* headers, as on App Engine (same emulators)."""
    from sample_app import create_app

    return create_app(
        {"TESTING": True, "UPLOAD_BUCKET": gcs_emulator.bucket, "GAE_TRUST_HEADERS": True}
    )


def test_on_app_engine_the_client_is_app_engines_user_ip(users: Users, trusting_app: Flask) -> None:
    users.signup("behind")

    def from_ip(ip: str, password: str = "wrong password") -> int:
        return _attempt(trusting_app, "behind", password, headers={"X-Appengine-User-IP": ip})

    assert [from_ip("198.51.100.1") for _ in range(5)] == [400] * 5
    assert from_ip("198.51.100.1") == 429
    assert from_ip("198.51.100.2", PASSWORD) == 302  # one peer (the front end), two clients
    # IPv6: one subscriber's /64 is one client.
    assert [from_ip(f"2001:db8:1:2::{i}") for i in range(1, 6)] == [400] * 5
    assert from_ip("2001:db8:1:2:ffff::1") == 429
    assert from_ip("2001:db8:1:3::1", PASSWORD) == 302


def test_off_app_engine_a_spoofed_user_ip_header_changes_nothing(users: Users, app: Flask) -> None:
    users.signup("spoofed")
    for i in range(5):
        spoof = {"X-Appengine-User-IP": f"198.51.100.{i}"}
        assert _attempt(app, "spoofed", "wrong", headers=spoof) == 400
    assert _attempt(app, "spoofed", PASSWORD, headers={"X-Appengine-User-IP": "1.2.3.4"}) == 429


def test_attempt_records_expire_and_cron_deletes_them(
    users: Users, app: Flask, trusting_app: Flask
) -> None:
    from google.cloud import ndb

    from sample_app.models import LoginAttempts, utcnow

    for i in range(3):
        assert _attempt(app, f"random-name-{i}", "whatever") == 400
    records = _records()
    assert len(records) == 4  # three (name, client) pairs and the client
    for record in records:
        assert utcnow() < record.expires <= utcnow() + timedelta(minutes=15)
        assert "random-name" not in record.key.id() and "127.0.0.1" not in record.key.id()

    cron = {"X-Appengine-Cron": "true"}
    assert app.test_client().get("/tasks/login-limits-cleanup", headers=cron).status_code == 403
    client = trusting_app.test_client()
    response = client.get("/tasks/login-limits-cleanup", headers=cron)
    assert response.status_code == 200
    assert response.get_json() == {"deleted": 0, "finished": True}  # none expired yet

    # Sixteen minutes later, as far as the records go: one of them is still in use.
    with gae.ndb.get_client().context():
        for record in records:
            record.expires = utcnow() - timedelta(minutes=1)
        ndb.put_multi(records)
    assert _attempt(app, "fresh-name", "whatever", remote="127.0.0.6") == 400
    response = client.get("/tasks/login-limits-cleanup", headers=cron)
    assert response.get_json() == {"deleted": 4, "finished": True}
    with gae.ndb.get_client().context():
        assert LoginAttempts.query().count() == 2  # the fresh pair and its client
