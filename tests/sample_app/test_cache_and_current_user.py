"""What the sample app keeps between requests (issue 20): the public cache of the latest
posts and of posts, the username in the session, one query per post page, warmup.

The cache tests set ``PUBLIC_CACHE_SECONDS`` to an hour, so a kept value is certainly
still kept at the next request whatever the machine's speed (no test depends on timing),
and write "elsewhere" (as another instance would) straight to Datastore.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import ndb

from framework import Flask, session
from framework.testing import FlaskClient
from gae.emulators import free_port
from sample_app import create_app
from sample_app.models import MAX_ATTACHMENTS, Attachment, Post, User

from .conftest import Users, csrf_from

pytestmark = pytest.mark.emulator

HOUR = 3600.0
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def titles(client: FlaskClient, path: str = "/") -> list[str]:
    return re.findall(r'<h2><a href="/p/\d+">([^<]*)</a></h2>', client.get(path).text)


def write_elsewhere(app: Flask, title: str) -> int:
    """A post stored by someone else than this app (another instance, the console)."""
    with app.app_context(), ndb.Client(project=_project()).context():
        post = Post(author=ndb.Key(User, "someone"), author_name="someone", title=title, text="x")
        post.put()
        return int(post.key.id())


def _project() -> str:
    from gae.settings import get_settings

    return str(get_settings().project)


@pytest.fixture
def kept(app: Flask) -> Flask:
    """The app with the cache keeping values for an hour."""
    fresh = create_app({"TESTING": True, "PUBLIC_CACHE_SECONDS": HOUR})
    fresh.config["UPLOAD_BUCKET"] = app.config["UPLOAD_BUCKET"]
    fresh.config["GCS_BUCKET"] = app.config["GCS_BUCKET"]
    return fresh


def test_the_cache_is_on_by_default_for_one_second(app: Flask) -> None:
    defaults = create_app()
    assert defaults.config["PUBLIC_CACHE_SECONDS"] == 1.0
    assert defaults.extensions["sample_app.cache"].seconds == 1.0
    # A write's response: the writer reads fresh for longer than anything is kept.
    client = defaults.test_client()
    response = client.post("/auth/login", data={})  # refused (no CSRF token): still a write
    assert response.status_code == 400
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("fresh=")]
    assert "Max-Age=3" in cookie
    assert "HttpOnly" in cookie
    assert not [c for c in client.get("/").headers.getlist("Set-Cookie") if "fresh" in c]


def test_a_browser_that_just_wrote_reads_fresh_others_read_the_kept_copy(kept: Flask) -> None:
    users = Users(kept)
    users.post(users.signup("someone"), "First")
    reader, writer = kept.test_client(), kept.test_client()
    assert titles(reader) == ["First"]
    write_elsewhere(kept, "Elsewhere")
    assert titles(reader) == ["First"]
    writer.set_cookie("fresh", "1")  # as a write through another instance leaves it
    assert titles(writer) == ["Elsewhere", "First"]
    assert titles(reader) == ["Elsewhere", "First"]  # (the fresh read was kept)


def test_front_page_and_api_are_kept_until_a_write_through_this_instance(kept: Flask) -> None:
    users = Users(kept)
    writer = users.signup("writer")
    visitor = kept.test_client()
    users.post(writer, "First")
    assert titles(visitor) == ["First"]

    write_elsewhere(kept, "Elsewhere")  # another instance: shown once the cache expires
    assert titles(visitor) == ["First"]
    assert [p["title"] for p in visitor.get("/api/posts").json["posts"]] == ["First"]

    # A write through this instance empties the cache: the writer (and everyone on this
    # instance) sees the new post at once, and what was written elsewhere with it.
    users.post(writer, "Second")
    assert titles(writer) == ["Second", "Elsewhere", "First"]
    assert titles(visitor) == ["Second", "Elsewhere", "First"]


def test_api_writes_and_deletes_show_at_once(kept: Flask) -> None:
    users = Users(kept)
    writer = users.signup("apiwriter")
    visitor = kept.test_client()
    assert visitor.get("/api/posts").json["posts"] == []
    token = csrf_from(writer, "/")
    created = writer.post(
        "/api/posts", json={"title": "By API", "text": "x"}, headers={"X-CSRF-Token": token}
    )
    assert created.status_code == 201
    assert [p["title"] for p in visitor.get("/api/posts").json["posts"]] == ["By API"]
    post_id = created.json["id"]
    assert visitor.get(f"/p/{post_id}").status_code == 200  # kept now
    deleted = writer.delete(f"/api/posts/{post_id}", headers={"X-CSRF-Token": token})
    assert deleted.status_code == 204
    assert visitor.get("/api/posts").json["posts"] == []
    assert visitor.get(f"/p/{post_id}").status_code == 404


def test_edit_shows_at_once_and_the_writer_reads_fresh_everywhere(kept: Flask) -> None:
    users = Users(kept)
    author = users.signup("author")
    post_id = users.post(author, "Title", "Old text")
    visitor = kept.test_client()
    assert "Old text" in visitor.get(f"/p/{post_id}").text

    token = csrf_from(author, f"/p/{post_id}/edit")
    edit = author.post(
        f"/p/{post_id}/edit", data={"title": "Title", "text": "New text", "csrf_token": token}
    )
    assert edit.status_code == 302
    assert "New text" in visitor.get(f"/p/{post_id}").text

    # Changed elsewhere: visitors get the kept copy until it expires; the author, who
    # just wrote (the "fresh" cookie), gets it from Datastore, on any instance.
    fresh = author.get_cookie("fresh")
    assert fresh is not None
    assert fresh.value == "1"
    assert fresh.http_only
    with kept.app_context(), ndb.Client(project=_project()).context():
        post = Post.get_by_id(post_id)
        post.text = "Changed elsewhere"
        post.put()
    assert "New text" in visitor.get(f"/p/{post_id}").text
    assert "Changed elsewhere" in author.get(f"/p/{post_id}").text


def test_an_upload_shows_at_once_to_visitors(kept: Flask) -> None:
    users = Users(kept)
    author = users.signup("uploader")
    post_id = users.post(author)
    visitor = kept.test_client()
    assert visitor.get(f"/api/posts/{post_id}").json["attachments"] == []
    token = csrf_from(author, f"/p/{post_id}")
    response = author.post(  # as the page's form does: the token in the query string
        f"/p/{post_id}/attachments",
        query_string={"csrf_token": token},
        data={"file": (io.BytesIO(PNG), "a.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    [attachment] = visitor.get(f"/api/posts/{post_id}").json["attachments"]
    assert attachment["filename"] == "a.png"
    assert "a.png" in visitor.get(f"/p/{post_id}").text


def test_no_page_is_shared_between_visitors(kept: Flask) -> None:
    # The kept data is public; each page is rendered for its visitor (name, CSRF token).
    users = Users(kept)
    alice, bob = users.signup("alice"), users.signup("bob")
    post_id = users.post(alice, "Shared")
    anonymous = kept.test_client()
    # The menu (before <main>) names the visitor; the post list names the author.
    menus = {
        name: c.get("/").text.partition("<main>")[0] for name, c in [("alice", alice), ("bob", bob)]
    }
    assert ">alice<" in menus["alice"]
    assert ">bob<" not in menus["alice"]
    assert ">bob<" in menus["bob"]
    assert ">alice<" not in menus["bob"]
    assert csrf_from(alice, "/") != csrf_from(bob, "/")
    anonymous_page = anonymous.get("/").text
    assert "Log in" in anonymous_page
    assert "csrf_token" not in anonymous_page
    # The post page: only its author gets the owner's forms.
    assert "Delete post" in alice.get(f"/p/{post_id}").text
    assert "Delete post" not in bob.get(f"/p/{post_id}").text
    assert "Delete post" not in anonymous.get(f"/p/{post_id}").text


def test_with_the_cache_off_every_page_reads_datastore(app: Flask) -> None:
    off = create_app({"TESTING": True, "PUBLIC_CACHE_SECONDS": 0})
    visitor = off.test_client()
    assert titles(visitor) == []
    write_elsewhere(off, "At once")
    assert titles(visitor) == ["At once"]


def test_pages_read_the_username_from_the_session_and_writes_check_the_account(
    users: Users, app: Flask
) -> None:
    alice = users.signup("Alice")
    assert ">Alice<" in alice.get("/").text
    token = csrf_from(alice, "/new")
    # The account is deleted out of band (the app has no page for it).
    with app.app_context(), ndb.Client(project=_project()).context():
        ndb.Key(User, "alice").delete()
    # Pages keep the name the session holds (no Datastore read per page)...
    assert ">Alice<" in alice.get("/").text
    # ...but nothing can be written for an account that is gone.
    response = alice.post("/new", data={"title": "t", "text": "x", "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    assert titles(app.test_client()) == []


def test_a_session_from_before_gets_the_username_from_the_account(users: Users, app: Flask) -> None:
    @app.get("/test/forget-username")
    def forget() -> str:  # a session as the app stored them before issue 20
        session.pop("username", None)
        return "ok"

    @app.get("/test/username")
    def username() -> str:
        return str(session.get("username"))

    bob = users.signup("Bob")
    assert bob.get("/test/forget-username").text == "ok"
    assert ">Bob<" in bob.get("/").text
    assert bob.get("/test/username").text == "Bob"  # stored back in the session
    assert ">Bob<" in bob.get("/").text


def test_a_post_and_its_attachments_come_in_the_same_order_as_before(
    users: Users, app: Flask
) -> None:
    post_id = users.post(users.signup("owner"))
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with app.app_context(), ndb.Client(project=_project()).context():
        post = Post.get_by_id(post_id)

        def attach(n: int, minutes: int) -> None:
            Attachment(
                parent=post.key,
                bucket="b",
                object_name=f"o{n}",
                filename=f"f{n}",
                created=base + timedelta(minutes=minutes),
            ).put()

        for n, minutes in enumerate([5, 1, 3]):
            attach(n, minutes)
        found = Post.with_attachments(post_id)
        assert found is not None
        assert [a.filename for a in found[1]] == ["f1", "f2", "f0"]
        assert found[1] == post.attachments()

        # More than a page lists: the same first ones as the ordered query.
        for n in range(3, MAX_ATTACHMENTS + 3):
            attach(n, 100 - n)
        found = Post.with_attachments(post_id)
        assert found is not None
        assert len(found[1]) == MAX_ATTACHMENTS
        assert found[1] == post.attachments()
        assert Post.with_attachments(post_id + 1) is None


def test_warmup_answers_200_and_fills_the_front_page(kept: Flask) -> None:
    write_elsewhere(kept, "Before warmup")
    response = kept.test_client().get("/_ah/warmup")
    assert response.status_code == 200
    assert response.text == "warmed up"
    write_elsewhere(kept, "After warmup")
    # The front page comes from what warmup read.
    assert titles(kept.test_client()) == ["Before warmup"]


def test_warmup_answers_200_while_datastore_is_down(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from .test_outages import unreachable

    unreachable(monkeypatch, "DATASTORE_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    response = app.test_client().get("/_ah/warmup")
    assert response.status_code == 200
    assert "Warmup could not read the front page" in caplog.text
