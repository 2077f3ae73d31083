"""Per-user pages under ``/u/<username>``: the username is pulled out of every URL by a
``url_value_preprocessor`` and put back by ``url_defaults``, so views and templates never
pass it around by hand."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import io
import uuid
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    render_template,
    render_template_string,
    send_file,
    stream_template,
    url_for,
)

from .db import query

bp = Blueprint("profiles", __name__, url_prefix="/u/<username>")

_NAMESPACE = uuid.UUID("12345678-1234-5678-1234-567812345678")


@dataclasses.dataclass
class Stats:
    username: str
    posts: int
    joined: datetime.date
    score: decimal.Decimal
    key: uuid.UUID
    seen: datetime.datetime


@bp.url_value_preprocessor
def pull_username(endpoint: str | None, values: dict[str, Any] | None) -> None:
    assert values is not None
    g.profile = query(
        "SELECT id, username FROM user WHERE username = ?", (values.pop("username"),), one=True
    )
    if g.profile is None:
        abort(404)


@bp.url_defaults
def add_username(endpoint: str, values: dict[str, Any]) -> None:
    if "username" not in values and g.get("profile") is not None:
        values["username"] = g.profile["username"]


@bp.route("/")
def overview() -> Any:
    posts = query("SELECT id, title, body FROM post WHERE author_id = ?", (g.profile["id"],))
    response = make_response(render_template("profiles/overview.html", posts=posts))
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.route("/card")
def card() -> str:
    # A tiny inline template: context processors and globals apply here too.
    return render_template_string(
        "<p class=card>{{ g.profile['username'] }} @ {{ site_name }}"
        " - <a href='{{ url_for('.overview') }}'>all posts</a></p>"
    )


@bp.route("/stats.json")
def stats() -> Any:
    count = query(
        "SELECT COUNT(*) AS n FROM post WHERE author_id = ?", (g.profile["id"],), one=True
    )["n"]
    return jsonify(
        Stats(
            username=g.profile["username"],
            posts=count,
            joined=datetime.date(2024, 2, 29),
            score=decimal.Decimal("12.50"),
            key=uuid.uuid5(_NAMESPACE, g.profile["username"]),
            seen=datetime.datetime(2024, 3, 1, 12, 30, tzinfo=datetime.UTC),
        )
    )


@bp.route("/titles.txt")
def titles_txt() -> Any:
    rows = query("SELECT title FROM post WHERE author_id = ? ORDER BY id", (g.profile["id"],))
    data = "".join(f"{row['title']}\n" for row in rows).encode()
    return send_file(
        io.BytesIO(data),
        mimetype="text/plain",
        as_attachment=True,
        download_name=f"{g.profile['username']}-titles.txt",
    )


@bp.route("/feed")
def feed() -> Any:
    posts = query("SELECT id, title FROM post WHERE author_id = ? ORDER BY id", (g.profile["id"],))
    return current_app.response_class(
        stream_template("profiles/feed.txt", posts=posts), mimetype="text/plain"
    )


@bp.route("/teapot")
def teapot() -> Any:
    abort(make_response(jsonify(error="I'm a teapot", profile=url_for(".overview")), 418))
