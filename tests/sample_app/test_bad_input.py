"""Requests the fuzz suite found answering 500 on the noticeboard: now 4xx or served."""

from __future__ import annotations

import pytest

from framework.testing import FlaskClient

from .conftest import Users, csrf_from


@pytest.mark.parametrize("post_id", ["0", str(2**63), "9" * 30])
def test_post_ids_datastore_cannot_hold_are_404(client: FlaskClient, post_id: str) -> None:
    for path in (f"/p/{post_id}", f"/api/posts/{post_id}"):
        assert client.get(path).status_code == 404


def test_logged_in_user_gets_the_stylesheet(users: Users) -> None:
    client = users.signup("stella")
    response = client.get("/static/style.css")
    assert response.status_code == 200
    response.close()


def test_next_that_urlsplit_refuses_falls_back(client: FlaskClient) -> None:
    # "//\uff0f": urlsplit raises ValueError (the netloc NFKC-normalises to "/").
    response = client.get("/auth/login", query_string={"next": "//\uff0f"})
    assert response.status_code == 200
    assert 'name="next" value="/"' in response.text


@pytest.mark.parametrize("attachment_id", ["0", str(2**63)])
def test_attachment_ids_datastore_cannot_hold_are_404(users: Users, attachment_id: str) -> None:
    client = users.signup("ada")
    post_id = users.post(client)
    assert client.get(f"/p/{post_id}/a/{attachment_id}").status_code == 404


@pytest.mark.parametrize("name", ["__abc__", "x" * 2000, "\u00e9" * 800])
def test_usernames_datastore_cannot_hold_as_a_key(client: FlaskClient, name: str) -> None:
    # Datastore refuses key names like "__abc__" (reserved) and over 1,500 bytes.
    assert client.get(f"/u/{name}").status_code == 404
    token = csrf_from(client, "/auth/signup")
    form = {"username": name, "password": "correct horse", "csrf_token": token}
    signup = client.post("/auth/signup", data=form)
    assert signup.status_code == 400
    assert "Use 3 to 30 letters" in signup.text
    statuses = [client.post("/auth/login", data=form).status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]  # counted, then blocked, like any wrong login


def test_csrf_token_with_non_ascii_characters_is_a_400(users: Users) -> None:
    client = users.signup("nina")
    for token in ("\u00e9t\u00e9", "\x80"):
        response = client.post("/new", data={"title": "t", "text": "x", "csrf_token": token})
        assert response.status_code == 400
        response = client.post("/api/posts", json={"title": "t"}, headers={"X-CSRF-Token": token})
        assert response.status_code == 400
