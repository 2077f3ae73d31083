"""A Flask app with Flask-Login, Flask-WTF, Flask-SQLAlchemy, Flask-Migrate and
Flask-Limiter, ported by one line (``framework.install_as_flask()`` in main.py), through the
user's commands: ``framework db init/migrate/upgrade`` (an app command group),
``framework limiter limits`` (a ``flask.commands`` plugin), an app command, ``framework run``
and gunicorn.

The app (``tests/extensions/demo``) imports ``flask`` everywhere; it is copied to a fresh
folder and driven over real HTTP on 127.0.0.1: log in with the CSRF token of the form,
add a note, read it back, and be refused without the token.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.framework._server import free_port, serving

from . import suites

ROOT = Path(__file__).resolve().parents[2]
DEMO = Path(__file__).resolve().parent / "demo"
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (suites.SITE / ".installed").exists():
        raise suites.NotPrepared(f"run `make extensions` once: {suites.SITE} is missing")
    folder = tmp_path_factory.mktemp("notes")
    shutil.copytree(DEMO, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def _env(project: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "FRAMEWORK_", "WERKZEUG_")) and key != "PYTHONPATH"
    }
    env.update(
        # The extensions come from the cache folder; framework from this checkout.
        PYTHONPATH=os.pathsep.join([str(suites.SITE), str(ROOT)]),
        PYTHONUNBUFFERED="1",
        SECRET_KEY="demo-secret-key-not-for-production",
        DATABASE_URL=f"sqlite:///{project / 'notes.db'}",
    )
    return env


def _framework(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "framework"), "--app", "main", *args],
        cwd=project,
        env=_env(project),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def migrated(project: Path) -> Path:
    _framework(project, "db", "init")
    _framework(project, "db", "migrate", "-m", "notes and users")
    _framework(project, "db", "upgrade")
    assert _framework(project, "add-user", "ann", "s3cret").stdout == "added ann\n"
    return project


def test_framework_db_upgrade_creates_the_tables(migrated: Path) -> None:
    with sqlite3.connect(migrated / "notes.db") as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
        users = db.execute("select name from user").fetchall()
    assert {"user", "note", "alembic_version"} <= tables
    assert users == [("ann",)]
    (script,) = (migrated / "migrations" / "versions").glob("*_notes_and_users.py")
    assert "op.create_table('note'" in script.read_text()


def test_help_lists_the_extensions_commands(migrated: Path) -> None:
    listed = _framework(migrated, "--help").stdout
    assert re.search(r"^  db +Perform database migrations\.$", listed, re.M)
    assert re.search(r"^  add-user +Create a user who can log in\.$", listed, re.M)
    # A flask.commands plugin: listed by its package, not imported for --help.
    assert re.search(r"^  limiter +Command from Flask-Limiter\.$", listed, re.M)


def test_flask_limiters_command_runs(migrated: Path) -> None:
    shown = _framework(migrated, "limiter", "limits", "--endpoint", "views.login").stdout
    assert "views.login" in shown
    assert "10 per 1 minute" in shown


class Browser:
    """A cookie-keeping HTTP client for one server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )

    def open(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base_url + path, data=data, timeout=20) as response:
                return response.status, response.geturl(), response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.geturl(), error.read().decode()

    def csrf_token(self, path: str) -> str:
        status, _, page = self.open(path)
        assert status == 200, page
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert match is not None, page
        return match.group(1)


def _walk(base_url: str) -> None:
    browser = Browser(base_url)
    # Flask-Login sends anonymous users to the login view.
    status, url, _ = browser.open("/")
    assert (status, urllib.parse.urlsplit(url).path) == (200, "/login")
    # Flask-WTF refuses a form without its CSRF token.
    status, _, page = browser.open("/login", {"name": "ann", "password": "s3cret"})
    assert status == 400
    assert "Wrong name or password." not in page
    token = browser.csrf_token("/login")
    status, _, page = browser.open(
        "/login", {"name": "ann", "password": "nope", "csrf_token": token}
    )
    assert (status, "Wrong name or password." in page) == (400, True)
    token = browser.csrf_token("/login")
    status, url, page = browser.open(
        "/login", {"name": "ann", "password": "s3cret", "csrf_token": token}
    )
    assert (status, urllib.parse.urlsplit(url).path) == (200, "/")
    assert "<title>Notes of ann</title>" in page
    note = f"written through {base_url}"
    status, _, page = browser.open("/notes", {"text": note, "csrf_token": browser.csrf_token("/")})
    assert status == 200
    assert '<p class="flash">Saved.</p>' in page
    assert f'<li class="note">{note}</li>' in page


def test_framework_run_serves_the_app(migrated: Path) -> None:
    port = free_port()
    argv = [str(BIN / "framework"), "--app", "main", "run", "--port", str(port)]
    with serving([(argv, port)], migrated, python=None, env=_env(migrated)) as (server,):
        _walk(server.base_url)


def test_gunicorn_serves_the_app(migrated: Path) -> None:
    # App Engine's entrypoint: gunicorn on main:app.
    port = free_port()
    argv = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "main:app"]
    with serving([(argv, port)], migrated, python=None, env=_env(migrated)) as (server,):
        _walk(server.base_url)
        _walk(server.base_url)  # both workers, one database
    assert "MixedFlaskWarning" not in server.output()
