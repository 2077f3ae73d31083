"""Fixtures in the style of Flask's tutorial, parametrised over Flask and framework."""

from __future__ import annotations

import types
import typing as t
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from . import porting

# Cheap hashes for the seeded users: the app's own register view uses the (slow) default.
_PBKDF2 = "pbkdf2:sha256:1000"
USERS = {"alice": "wonderland", "bob": "builder"}
_HASHES = {name: generate_password_hash(pw, method=_PBKDF2) for name, pw in USERS.items()}

SEED_POSTS = [
    # (author, title, body)
    ("alice", "Down the rabbit hole", "It was all very curious.\nCuriouser and curiouser!"),
    ("bob", "Can we fix it?", "Yes we can. With a hammer, a level and one two three four screws."),
    ("alice", "Tea party", "No room! No room!"),
]


def seed(package: types.ModuleType) -> None:
    """Create the tables and the seed rows (inside an app context)."""
    package.db.init_db()
    db = package.db.get_db()
    ids = {}
    for name in USERS:
        cur = db.execute(
            "INSERT INTO user (username, password) VALUES (?, ?)", (name, _HASHES[name])
        )
        ids[name] = cur.lastrowid
    for author, title, body in SEED_POSTS:
        db.execute(
            "INSERT INTO post (title, body, author_id) VALUES (?, ?, ?)",
            (title, body, ids[author]),
        )
    db.commit()


def make_app(flavour: str, tmp_path: Path, **config: t.Any) -> t.Any:
    """A seeded app on ``flavour`` with its database and instance folder in ``tmp_path``."""
    package = porting.load(flavour)
    settings = {
        "TESTING": True,
        "SECRET_KEY": "compat-secret",
        "DATABASE": str(tmp_path / "flaskr_like.sqlite"),
        **config,
    }
    app = package.create_app(settings, instance_path=str(tmp_path / "instance"))
    with app.app_context():
        seed(package)
    return app


@pytest.fixture(params=porting.FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


@pytest.fixture
def package(flavour: str) -> types.ModuleType:
    return porting.load(flavour)


@pytest.fixture
def app(flavour: str, tmp_path: Path) -> t.Any:
    return make_app(flavour, tmp_path)


@pytest.fixture
def client(app: t.Any) -> t.Any:
    return app.test_client()


@pytest.fixture
def runner(app: t.Any) -> t.Any:
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client: t.Any) -> None:
        self._client = client

    def login(self, username: str = "alice", password: str | None = None, **form: str) -> t.Any:
        data = {"username": username, "password": password or USERS.get(username, "x"), **form}
        return self._client.post("/auth/login", data=data)

    def logout(self) -> t.Any:
        return self._client.get("/auth/logout")


@pytest.fixture
def auth(client: t.Any) -> AuthActions:
    return AuthActions(client)
