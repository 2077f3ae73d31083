"""The blog pages: list, create, update, delete; a JSON feed and a streamed CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from markupsafe import Markup, escape

from .auth import login_required
from .db import get_db, query

bp = Blueprint("blog", __name__)


@bp.app_template_filter("nl2br")
def nl2br(text: str) -> Markup:
    """Escape ``text`` and turn its line breaks into ``<br>`` tags."""
    return Markup("<br>\n").join(escape(line) for line in text.splitlines())


@bp.app_template_filter()
def excerpt(text: str, words: int = 8) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


@bp.app_context_processor
def post_helpers() -> dict[str, Any]:
    def can_edit(post: Any) -> bool:
        return g.user is not None and post["author_id"] == g.user["id"]

    return {"can_edit": can_edit}


def get_post(id: int, check_author: bool = True) -> Any:
    post = query(
        "SELECT p.id, title, body, author_id, username"
        " FROM post p JOIN user u ON p.author_id = u.id WHERE p.id = ?",
        (id,),
        one=True,
    )
    if post is None:
        abort(404, f"Post id {id} doesn't exist.")
    if check_author and post["author_id"] != g.user["id"]:
        abort(403)
    return post


@bp.route("/")
def index() -> str:
    posts = query(
        "SELECT p.id, title, body, author_id, username"
        " FROM post p JOIN user u ON p.author_id = u.id ORDER BY p.id DESC"
    )
    return render_template("blog/index.html", posts=posts)


@bp.route("/<int:id>")
def detail(id: int) -> str:
    return render_template("blog/detail.html", post=get_post(id, check_author=False))


@bp.route("/create", methods=("GET", "POST"))
@login_required
def create() -> Any:
    if request.method == "POST":
        title = request.form["title"].strip()
        body = request.form.get("body", "")
        if not title:
            flash("Title is required.", "error")
        else:
            db = get_db()
            db.execute(
                "INSERT INTO post (title, body, author_id) VALUES (?, ?, ?)",
                (title, body, g.user["id"]),
            )
            db.commit()
            flash("Post created.", "success")
            return redirect(url_for("blog.index"))
    return render_template("blog/create.html")


@bp.route("/<int:id>/update", methods=("GET", "POST"))
@login_required
def update(id: int) -> Any:
    post = get_post(id)
    if request.method == "POST":
        title = request.form["title"].strip()
        body = request.form.get("body", "")
        if not title:
            flash("Title is required.", "error")
        else:
            db = get_db()
            db.execute("UPDATE post SET title = ?, body = ? WHERE id = ?", (title, body, id))
            db.commit()
            flash("Post updated.", "success")
            return redirect(url_for("blog.detail", id=id))
    return render_template("blog/update.html", post=post)


@bp.route("/<int:id>/delete", methods=("POST",))
@login_required
def delete(id: int) -> Any:
    get_post(id)
    db = get_db()
    db.execute("DELETE FROM post WHERE id = ?", (id,))
    db.commit()
    flash("Post deleted.", "info")
    return redirect(url_for("blog.index"))


@bp.route("/posts.json")
def posts_json() -> Any:
    rows = query(
        "SELECT p.id, title, body, username FROM post p JOIN user u ON p.author_id = u.id"
        " ORDER BY p.id"
    )
    if request.args.get("format") == "list":
        # A bare list: Flask turns it into a JSON array response.
        return [row["title"] for row in rows]
    return {
        "count": len(rows),
        "posts": [
            {
                "id": row["id"],
                "title": row["title"],
                "author": row["username"],
                "url": url_for("blog.detail", id=row["id"], _external=True),
            }
            for row in rows
        ],
    }


@bp.route("/authors/<username>.json")
def author_json(username: str) -> Any:
    user = query("SELECT id, username FROM user WHERE username = ?", (username,), one=True)
    if user is None:
        return jsonify(error=f"no author called {username}"), 404
    titles = [
        r["title"] for r in query("SELECT title FROM post WHERE author_id = ?", (user["id"],))
    ]
    return jsonify(author=user["username"], titles=titles, logged_in=g.user is not None)


@bp.route("/export.csv")
@login_required
def export_csv() -> Response:
    separator = request.args.get("sep", ",")
    if len(separator) != 1:
        abort(400, "sep must be a single character.")

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=separator, lineterminator="\n")
        writer.writerow(["id", "title", "author"])
        # The query runs while the response streams: it needs the request's app context
        # (g.user, the db connection), which stream_with_context keeps alive.
        for row in query(
            "SELECT p.id, title, username FROM post p JOIN user u ON p.author_id = u.id"
            " WHERE p.author_id = ? ORDER BY p.id",
            (g.user["id"],),
        ):
            writer.writerow([row["id"], row["title"], row["username"]])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        writer.writerow([f"# exported by {request.args.get('by', g.user['username'])}"])
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=posts.csv"},
    )
