"""A JSON API over posts built from MethodView classes, with JSON error bodies."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, g, jsonify, request, url_for
from flask.views import MethodView
from werkzeug.exceptions import HTTPException

from .db import get_db, query

bp = Blueprint("api", __name__)


@bp.before_request
def maintenance_mode() -> Any:
    if current_app.config["MAINTENANCE"] and request.method != "GET":
        return {"error": "maintenance", "message": "The API is read-only right now."}, 503
    return None


@bp.errorhandler(400)
def bad_request(error: HTTPException) -> Any:
    return jsonify(error="bad request", message=error.description), 400


@bp.errorhandler(401)
@bp.errorhandler(403)
@bp.errorhandler(404)
def api_error(error: HTTPException) -> Any:
    return {"error": error.name.lower(), "message": error.description}, error.code


def _as_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "body": row["body"],
        "author_id": row["author_id"],
        "links": {"self": url_for("api.post", id=row["id"])},
    }


def _payload() -> dict[str, Any]:
    data = request.get_json()
    if not isinstance(data, dict):
        abort(400, "Send a JSON object.")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        abort(400, "'title' must be a non-empty string.")
    body = data.get("body", "")
    if not isinstance(body, str):
        abort(400, "'body' must be a string.")
    return {"title": title.strip(), "body": body}


def require_user(view: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.method not in ("GET", "HEAD") and g.user is None:
            abort(401, "Log in to change posts.")
        return view(*args, **kwargs)

    return wrapper


class PostGroup(MethodView):
    decorators = [require_user]
    init_every_request = False

    def get(self) -> Any:
        rows = query("SELECT * FROM post ORDER BY id")
        return [_as_dict(row) for row in rows]

    def post(self) -> Any:
        data = _payload()
        db = get_db()
        cur = db.execute(
            "INSERT INTO post (title, body, author_id) VALUES (?, ?, ?)",
            (data["title"], data["body"], g.user["id"]),
        )
        db.commit()
        row = query("SELECT * FROM post WHERE id = ?", (cur.lastrowid,), one=True)
        return _as_dict(row), 201, {"Location": url_for("api.post", id=row["id"])}


class PostItem(MethodView):
    decorators = [require_user]

    def _get(self, id: int, write: bool = False) -> Any:
        row = query("SELECT * FROM post WHERE id = ?", (id,), one=True)
        if row is None:
            abort(404, f"No post with id {id}.")
        if write and row["author_id"] != g.user["id"]:
            abort(403, "That post belongs to someone else.")
        return row

    def get(self, id: int) -> Any:
        return _as_dict(self._get(id))

    def put(self, id: int) -> Any:
        self._get(id, write=True)
        data = _payload()
        db = get_db()
        db.execute(
            "UPDATE post SET title = ?, body = ? WHERE id = ?", (data["title"], data["body"], id)
        )
        db.commit()
        return _as_dict(self._get(id))

    def delete(self, id: int) -> Any:
        self._get(id, write=True)
        db = get_db()
        db.execute("DELETE FROM post WHERE id = ?", (id,))
        db.commit()
        return "", 204


bp.add_url_rule("/posts", view_func=PostGroup.as_view("posts"))
bp.add_url_rule("/posts/<int:id>", view_func=PostItem.as_view("post"))
