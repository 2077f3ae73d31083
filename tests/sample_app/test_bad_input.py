"""Requests the fuzz suite found answering 500 on the noticeboard: now 4xx or served."""

from __future__ import annotations

import pytest

from framework.testing import FlaskClient

from .conftest import Users


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
