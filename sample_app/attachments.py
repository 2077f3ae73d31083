"""Attachments: small files through the app, large ones straight to Cloud Storage.

(Upload routes are wired to ``gae.storage``.)
"""

from __future__ import annotations

import typing as t

from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

from framework import Blueprint, abort

from .models import Attachment, Post

bp = Blueprint("attachments", __name__)

SMALL_LIMIT = 16 * 1024 * 1024
LARGE_LIMIT = 512 * 1024 * 1024
ALLOWED_TYPES = ("image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain")


def limits_for_templates() -> dict[str, t.Any]:
    return {"small": SMALL_LIMIT, "large": LARGE_LIMIT, "types": ALLOWED_TYPES}


def delete_attachments(post: Post) -> None:
    """Delete a post's attachment records (and their objects)."""
    keys = Attachment.query(ancestor=post.key).fetch(keys_only=True)
    if keys:
        ndb.delete_multi(keys)


@bp.post("/p/<int:post_id>/attachments")
def upload(post_id: int) -> t.Any:
    abort(501)


@bp.post("/p/<int:post_id>/attachments/direct")
def direct_upload(post_id: int) -> t.Any:
    abort(501)


@bp.get("/p/<int:post_id>/a/<int:attachment_id>")
def download(post_id: int, attachment_id: int) -> t.Any:
    abort(404)
