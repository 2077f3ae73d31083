"""CSRF tokens change at every change of privilege, and a visitor who only reads makes
the app store nothing (the visitor's token lives in a signed cookie, not in Datastore)."""

from __future__ import annotations

import typing as t

import pytest

import gae.ndb
from framework import Flask
from framework.testing import FlaskClient

from .conftest import Users, csrf_from

PASSWORD = "correct horse"


def _all_entities() -> dict[str, set[t.Any]]:
    """Every stored entity's key, by kind (whatever the app stores)."""
    from google.cloud import ndb
    from google.cloud.ndb import metadata

    with gae.ndb.get_client().context():
        kinds = [k for k in metadata.get_kinds() if not k.startswith("__")]
        return {k: set(ndb.Query(kind=k).fetch(keys_only=True)) for k in kinds}


def _posts_titled(title: str) -> int:
    from sample_app.models import Post

    with gae.ndb.get_client().context():
        return sum(1 for p in Post.query().fetch() if p.title == title)


def _plant(source: FlaskClient, target: FlaskClient) -> None:
    """Copy ``source``'s cookies into ``target`` (an attacker fixing their session, or
    visitor token, into the victim's browser)."""
    for name in ("session", "csrf"):
        cookie = source.get_cookie(name)
        if cookie is not None:
            target.set_cookie(name, cookie.value)


@pytest.mark.parametrize("how", ["login", "signup"])
@pytest.mark.parametrize("planted", ["visitor", "account"])
def test_a_csrf_token_known_before_login_is_worthless_after_it(
    users: Users, app: Flask, how: str, planted: str
) -> None:
    if how == "login":
        users.signup("victim")
    if planted == "account":
        # The attacker's own logged-in session, with the token the attacker read from it.
        attacker = users.signup("attacker")
        known = csrf_from(attacker, "/new")
    else:
        # The attacker's anonymous state, with the token of the login form.
        attacker = app.test_client()
        known = csrf_from(attacker, f"/auth/{how}")
    victim = app.test_client()
    _plant(attacker, victim)
    token = csrf_from(victim, f"/auth/{how}")
    assert token == known  # (the planted state is what the victim's form carries)
    response = victim.post(
        f"/auth/{how}", data={"username": "victim", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    assert victim.get("/api/session").get_json()["user"] == "victim"

    # A cross-site form posted from the victim's browser with the token known before.
    for field in ({"csrf_token": known}, {}):
        headers = {} if field else {"X-CSRF-Token": known}
        form = {"title": "forged", "text": "x", **field}
        forged = victim.post("/new", data=form, headers=headers)
        assert forged.status_code == 400, forged.text
        assert "security token" in forged.text
    assert _posts_titled("forged") == 0
    # The victim's own (new) token works.
    fresh = csrf_from(victim, "/new")
    assert fresh != known
    ok = victim.post("/new", data={"title": "mine", "text": "x", "csrf_token": fresh})
    assert ok.status_code == 302


def test_logout_rotates_the_token(users: Users, app: Flask) -> None:
    client = users.signup("leaver")
    known = csrf_from(client, "/new")
    assert client.post("/auth/logout", data={"csrf_token": known}).status_code == 302
    # Logged out: the login form gets a new token, and the old one opens nothing.
    assert csrf_from(client, "/auth/login") != known
    response = client.post(
        "/auth/login", data={"username": "leaver", "password": PASSWORD, "csrf_token": known}
    )
    assert response.status_code == 400
    assert "security token" in response.text


def test_a_visitor_who_only_reads_makes_the_app_store_nothing(users: Users, app: Flask) -> None:
    author = users.signup("author")
    post_id = users.post(author)
    before = _all_entities()
    visitor = app.test_client()
    for path in (
        "/",
        "/auth/login",
        "/auth/signup",
        "/auth/login?next=/new",
        "/new",  # a redirect to the login form
        f"/p/{post_id}",
        "/u/author",
        "/api/session",
        "/api/posts",
        f"/api/posts/{post_id}",
        "/nowhere",
    ):
        for _ in range(2):
            response = visitor.get(path)
            assert response.status_code in {200, 302, 404}, (path, response.status_code)
    # A wrong password (counted by the rate limiter) and a wrong form token store no
    # session either.
    token = csrf_from(visitor, "/auth/login")
    wrong = visitor.post(
        "/auth/login", data={"username": "author", "password": "nope", "csrf_token": token}
    )
    assert wrong.status_code == 400
    visitor.post("/auth/signup", data={"username": "x", "password": "y", "csrf_token": "forged"})
    after = _all_entities()
    assert after.get("Session") == before.get("Session")
    assert {k: v for k, v in after.items() if k != "LoginAttempts"} == {
        k: v for k, v in before.items() if k != "LoginAttempts"
    }
    # ... and its token still works: it signs up from the same pages.
    response = visitor.post(
        "/auth/signup", data={"username": "reader", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    assert visitor.get("/api/session").get_json()["user"] == "reader"


def test_the_visitor_token_needs_its_signed_cookie(app: Flask) -> None:
    visitor = app.test_client()
    token = csrf_from(visitor, "/auth/login")
    cookie = visitor.get_cookie("csrf")
    assert cookie is not None and token in cookie.value  # the token, then its signature
    for forged in (token, f"{token}.forged", f"{token}.{'A' * 27}"):
        other = app.test_client()
        other.set_cookie("csrf", forged)
        response = other.post(
            "/auth/login", data={"username": "x", "password": "y", "csrf_token": token}
        )
        assert response.status_code == 400
        assert "security token" in response.text
