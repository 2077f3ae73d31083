"""The noticeboard pages: front page, user pages, a post, and editing one's own posts."""

from __future__ import annotations

import typing as t

import grpc  # type: ignore[import-untyped, unused-ignore]
from google.api_core.exceptions import InvalidArgument
from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

from framework import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .cache import public_cache
from .files import delete_attachments
from .models import Attachment, Post, User
from .security import login_required

bp = Blueprint("posts", __name__)

PAGE_SIZE = 10
E = t.TypeVar("E", bound=ndb.Model)
MAX_TITLE = 120
MAX_TEXT = 10_000


def page_of(query: t.Any, cursor_text: str | None) -> tuple[list[Post], str | None]:
    """One page of ``query`` from a URL-safe cursor; a bad cursor is a 400."""
    try:
        cursor = ndb.Cursor(urlsafe=cursor_text) if cursor_text else None
        posts, next_cursor, more = query.fetch_page(PAGE_SIZE, start_cursor=cursor)
    except (ValueError, TypeError, InvalidArgument, grpc.RpcError):
        # A cursor is opaque bytes from a link: anything the client mangled is its error.
        abort(400, "The page link is invalid; go back to the first page.")
    # Datastore may say "more" at the end of a short page; a short page is the last one.
    more = more and len(posts) == PAGE_SIZE and next_cursor is not None
    return posts, (next_cursor.urlsafe().decode() if more else None)


#: Datastore numeric ids are 1 to 2**63 - 1; the URL's int converter accepts any number.
MAX_ID = 2**63 - 1


def get_post(post_id: int) -> Post:
    if not 0 < post_id <= MAX_ID:
        abort(404)  # Datastore refuses such ids with an error: no post has one
    post = Post.get_by_id(post_id)
    if post is None:
        abort(404)
    return t.cast(Post, post)


def own_post(post_id: int) -> Post:
    post = get_post(post_id)
    if g.user is None or post.author != g.user.key:
        abort(403, "Only the author can change this post.")
    return post


def validate(title: str, text: str) -> dict[str, str]:
    errors = {}
    if not title:
        errors["title"] = "Give the post a title."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"Keep the title under {MAX_TITLE} characters."
    if not text:
        errors["text"] = "Write something."
    elif len(text) > MAX_TEXT:
        errors["text"] = f"Keep the text under {MAX_TEXT:,} characters."
    return errors


def settled(entities: t.Sequence[E]) -> tuple[E, ...]:
    """``entities``, each property read once: ndb converts a value read from Datastore
    on its first access, and entities kept for other requests are then only read, by any
    number of threads at once."""
    for entity in entities:
        entity.to_dict()
    return tuple(entities)


def latest_page(cursor_text: str | None) -> tuple[list[Post], str | None]:
    """A page of the latest posts (the front page's and the API's); the first page is
    kept in memory for a moment (:mod:`sample_app.cache`)."""
    query = Post.query().order(-Post.created)
    if cursor_text:
        return page_of(query, cursor_text)

    def load() -> tuple[tuple[Post, ...], str | None]:
        posts, cursor = page_of(query, None)
        return settled(posts), cursor

    posts, cursor = public_cache().get("latest", load)
    return list(posts), cursor


@bp.route("/")
def index() -> t.Any:
    posts, cursor = latest_page(request.args.get("cursor"))
    return render_template("index.html", posts=posts, cursor=cursor)


@bp.route("/u/<username>")
def user_page(username: str) -> t.Any:
    user = User.lookup(username)
    if user is None:
        abort(404)
    query = Post.query(Post.author == user.key).order(-Post.created)
    posts, cursor = page_of(query, request.args.get("cursor"))
    return render_template("user.html", owner=user, posts=posts, cursor=cursor)


def get_post_with_attachments(post_id: int) -> tuple[Post, list[Attachment]]:
    """A post and its attachments (one Datastore call, or none while the post is kept
    in memory: :mod:`sample_app.cache`), or a 404."""
    if not 0 < post_id <= MAX_ID:
        abort(404)

    def load() -> tuple[Post, tuple[Attachment, ...]] | None:
        found = Post.with_attachments(post_id)
        return None if found is None else (settled([found[0]])[0], settled(found[1]))

    found = public_cache().get(("post", post_id), load, keep=lambda value: value is not None)
    if found is None:
        abort(404)
    return found[0], list(found[1])


@bp.route("/p/<int:post_id>")
def show(post_id: int) -> t.Any:
    post, attachments = get_post_with_attachments(post_id)
    return render_template("post.html", post=post, attachments=attachments)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create() -> t.Any:
    title = request.form.get("title", "").strip()
    text = request.form.get("text", "").strip()
    errors: dict[str, str] = {}
    if request.method == "POST":
        errors = validate(title, text)
        if not errors:
            post = Post(author=g.user.key, author_name=g.user.username, title=title, text=text)
            post.put()
            flash("Posted.", "success")
            return redirect(url_for("posts.show", post_id=post.key.id()))
    status = 400 if errors else 200
    return render_template(
        "post_form.html", errors=errors, title=title, text=text, post=None
    ), status


@bp.route("/p/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
def edit(post_id: int) -> t.Any:
    post = own_post(post_id)
    title = request.form.get("title", post.title).strip()
    text = request.form.get("text", post.text).strip()
    errors: dict[str, str] = {}
    if request.method == "POST":
        errors = validate(title, text)
        if not errors:
            post.title, post.text = title, text
            post.put()
            flash("Saved.", "success")
            return redirect(url_for("posts.show", post_id=post_id))
    status = 400 if errors else 200
    return render_template(
        "post_form.html", errors=errors, title=title, text=text, post=post
    ), status


@bp.post("/p/<int:post_id>/delete")
@login_required
def delete(post_id: int) -> t.Any:
    post = own_post(post_id)
    delete_attachments(post)
    post.key.delete()
    flash("Deleted.", "info")
    return redirect(url_for("posts.index"))
