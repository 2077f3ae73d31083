"""Valid JSON the parser accepts but no field can hold: lone UTF-16 surrogates, and NaN,
Infinity and numbers beyond the double range. Each is a 400 naming the field, and stores
nothing; the same routes accept real text (surrogate pairs included) and whole numbers."""

from __future__ import annotations

import typing as t

import pytest

import gae.ndb
from framework import Flask
from framework.testing import FlaskClient
from gae.emulators import StorageEmulator

from .conftest import Users, csrf_from
from .test_attachments import bucket_names


def _stored(app: Flask, gcs_emulator: StorageEmulator) -> tuple[t.Any, ...]:
    from sample_app.models import Attachment, Post, User

    with gae.ndb.get_client().context():
        entities = tuple(
            sorted(str(e.to_dict()) for e in m.query().fetch()) for m in (User, Post, Attachment)
        )
    return (*entities, tuple(bucket_names(app, gcs_emulator)))


def _send(client: FlaskClient, path: str, body: str, token: str) -> t.Any:
    return client.post(
        path,
        data=body.encode("ascii"),
        content_type="application/json",
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )


@pytest.fixture
def author(users: Users) -> tuple[FlaskClient, int, str]:
    client = users.signup("writer")
    post_id = users.post(client)
    return client, post_id, csrf_from(client, "/new")


def _direct(filename: str = '"a.png"', ctype: str = '"image/png"', size: str = "9") -> str:
    """A direct-upload request body with raw JSON text for each member."""
    return f'{{"filename": {filename}, "content_type": {ctype}, "size": {size}}}'


BAD_BODIES = [
    ("/api/posts", r'{"title": "\ud800", "text": "x"}', "'title'"),
    ("/api/posts", r'{"title": "t", "text": "a\udfffb"}', "'text'"),
    ("/api/posts", r'{"title": "t", "text": "x", "\ud800": 1}', "key"),
    ("/api/posts", r'{"title": "t", "text": "x", "n": [1, NaN]}', "'n'[1]"),
    ("{direct}", _direct(filename=r'"\ud800.png"'), "'filename'"),
    ("{direct}", _direct(ctype=r'"image/\udc00"'), "'content_type'"),
    *(
        ("{direct}", _direct(size=size), "'size'")
        for size in ("Infinity", "-Infinity", "NaN", "1e400", "-1e400", "true", "1.5")
    ),
    ("{finalize}", r'{"ticket": "\ud800"}', "'ticket'"),
    ("{finalize}", r'{"ticket": "abc.\udbff"}', "'ticket'"),
]


@pytest.mark.parametrize(("path", "body", "named"), BAD_BODIES)
def test_unusable_json_values_are_400s_naming_the_field(
    author: tuple[FlaskClient, int, str],
    app: Flask,
    gcs_emulator: StorageEmulator,
    path: str,
    body: str,
    named: str,
) -> None:
    client, post_id, token = author
    path = path.format(
        direct=f"/p/{post_id}/attachments/direct", finalize=f"/p/{post_id}/attachments/finalize"
    )
    before = _stored(app, gcs_emulator)
    response = _send(client, path, body, token)
    assert response.status_code == 400, response.text
    message = response.get_json()["error"]["message"]
    assert named in message, message
    assert _stored(app, gcs_emulator) == before


def test_real_text_and_whole_numbers_are_accepted(author: tuple[FlaskClient, int, str]) -> None:
    client, post_id, token = author
    # A surrogate pair is one character (U+1F600), not a lone surrogate.
    response = _send(client, "/api/posts", r'{"title": "smile \ud83d\ude00", "text": "ok"}', token)
    assert response.status_code == 201, response.text
    assert response.get_json()["title"] == "smile \U0001f600"
    for size in ("1024", "1024.0", '"1024"'):
        response = _send(client, f"/p/{post_id}/attachments/direct", _direct(size=size), token)
        assert response.status_code == 201, (size, response.text)
