"""The JSON API under ``/api/``: the same accounts, sessions and CSRF rules as the site.

Errors are JSON: ``{"error": {"code": 404, "name": "Not Found", "message": "..."}}``.
"""

from __future__ import annotations

import typing as t

from framework import Blueprint, g, jsonify, request, url_for

from .csrf import csrf_token
from .files import delete_attachments
from .models import Post
from .posts import get_post_with_attachments, latest_page, own_post, validate
from .security import login_required
from .validation import json_object

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/session")
def whoami() -> t.Any:
    """Who is logged in, and the CSRF token to send as ``X-CSRF-Token``."""
    return {
        "user": g.user.username if g.user is not None else None,
        "csrf_token": csrf_token() if g.user is not None else None,
    }


@bp.get("/posts")
def list_posts() -> t.Any:
    posts, cursor = latest_page(request.args.get("cursor"))
    return {
        "posts": [p.to_dict_public() for p in posts],
        "next": url_for("api.list_posts", cursor=cursor) if cursor else None,
    }


@bp.get("/posts/<int:post_id>")
def read_post(post_id: int) -> t.Any:
    post, attachments = get_post_with_attachments(post_id)
    data = post.to_dict_public()
    data["attachments"] = [
        {
            "id": a.key.id(),
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "download": url_for("attachments.download", post_id=post_id, attachment_id=a.key.id()),
        }
        for a in attachments
    ]
    return data


@bp.post("/posts")
@login_required
def create_post() -> t.Any:
    payload = json_object("Send a JSON object with 'title' and 'text'.")
    title = str(payload.get("title", "")).strip()
    text = str(payload.get("text", "")).strip()
    errors = validate(title, text)
    if errors:
        return _error(400, "The post is not valid.", fields=errors)
    post = Post(author=g.user.key, author_name=g.user.username, title=title, text=text)
    post.put()
    body = post.to_dict_public()
    return jsonify(body), 201, {"Location": url_for("api.read_post", post_id=body["id"])}


@bp.delete("/posts/<int:post_id>")
@login_required
def delete_post(post_id: int) -> t.Any:
    post = own_post(post_id)
    delete_attachments(post)
    post.key.delete()
    return "", 204


def _error(code: int, message: str, **extra: t.Any) -> t.Any:
    from werkzeug.http import HTTP_STATUS_CODES

    body = {
        "error": {
            "code": code,
            "name": HTTP_STATUS_CODES.get(code, ""),
            "message": message,
            **extra,
        }
    }
    return jsonify(body), code
