"""Attachments: small files through the app, large ones straight to Cloud Storage.

* ``POST /p/<id>/attachments``: a multipart form; the file streams into the bucket while
  the request is read (``gae.storage``), up to :data:`SMALL_LIMIT`.
* ``POST /p/<id>/attachments/direct``: JSON ``{filename, content_type, size}``; answers a
  resumable upload session the browser ``PUT``s the file to (no 32 MiB request limit),
  then ``POST /p/<id>/attachments/finalize`` with the ticket checks and records it.
* ``GET /p/<id>/a/<attachment>``: the file, streamed (``Range`` supported); ``?signed=1``
  redirects to a short-lived signed URL where signing credentials exist.
"""

from __future__ import annotations

import typing as t

from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

from framework import Blueprint, abort, flash, g, jsonify, redirect, request, url_for
from gae.storage import (
    MiB,
    SigningError,
    Storage,
    StoredFile,
    UploadPolicy,
)

from .errors import DATASTORE_UNAVAILABLE
from .models import Attachment, Post
from .posts import MAX_ID, get_post, own_post
from .security import login_required

bp = Blueprint("attachments", __name__)

SMALL_LIMIT = 16 * MiB
LARGE_LIMIT = 512 * MiB
ALLOWED_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain", "application/zip"}
)

storage = Storage(
    policy=UploadPolicy(
        max_file_size=SMALL_LIMIT,
        max_files=1,
        allowed_types=ALLOWED_TYPES,
        prefix="attachments/",
    ),
    direct_policy=UploadPolicy(
        max_file_size=LARGE_LIMIT,
        max_request_size=None,
        max_files=1,
        allowed_types=ALLOWED_TYPES,
        prefix="attachments/",
    ),
)


def limits_for_templates() -> dict[str, t.Any]:
    return {"small": SMALL_LIMIT, "large": LARGE_LIMIT, "types": sorted(ALLOWED_TYPES)}


def record(post: Post, stored: StoredFile) -> Attachment:
    """Keep what the app needs to serve a stored file, under its post."""
    attachment = Attachment(
        parent=post.key,
        bucket=stored.bucket,
        object_name=stored.name,
        filename=stored.original_filename,
        content_type=stored.content_type,
        size=stored.size,
        checksum=f"{stored.checksum_algorithm}:{stored.checksum}",
    )
    attachment.put()
    from .jobs import enqueue_scan

    enqueue_scan(attachment)
    return attachment


def stored_file(attachment: Attachment) -> StoredFile:
    algorithm, _, checksum = (attachment.checksum or ":").partition(":")
    return StoredFile(
        bucket=attachment.bucket,
        name=attachment.object_name,
        size=attachment.size or 0,
        content_type=attachment.content_type or "application/octet-stream",
        checksum_algorithm=algorithm,
        checksum=checksum,
        original_filename=attachment.filename or "download",
    )


def delete_attachments(post: Post) -> None:
    """Delete a post's attachments: the objects, then their records."""
    attachments = Attachment.query(ancestor=post.key).fetch()
    for attachment in attachments:
        storage.delete(attachment.object_name)
    if attachments:
        ndb.delete_multi([a.key for a in attachments])


@bp.post("/p/<int:post_id>/attachments")
@login_required
@storage.accepts_uploads()
def upload(post_id: int) -> t.Any:
    post = own_post(post_id)
    files = storage.receive()
    if not files:
        abort(400, "Choose a file to upload.")
    try:
        record(post, files[0])
    except DATASTORE_UNAVAILABLE:
        # The record may have been committed although the call failed: keep the object,
        # so that no attachment ever points at a deleted one.
        storage.keep()
        raise
    flash(f"Attached {files[0].original_filename}.", "success")
    return redirect(url_for("posts.show", post_id=post_id))


@bp.post("/p/<int:post_id>/attachments/direct")
@login_required
def direct_upload(post_id: int) -> t.Any:
    own_post(post_id)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "Send JSON with 'filename', 'content_type' and 'size'.")
    try:
        size = int(data.get("size"))
    except (TypeError, ValueError):
        abort(400, "'size' must be the file's size in bytes.")
    upload = storage.resumable_upload(
        str(data.get("filename") or ""),
        str(data.get("content_type") or ""),
        size,
        origin=request.origin,
    )
    body = upload.to_dict()
    body["finalize"] = url_for("attachments.finalize", post_id=post_id)
    return jsonify(body), 201


@bp.post("/p/<int:post_id>/attachments/finalize")
@login_required
def finalize(post_id: int) -> t.Any:
    post = own_post(post_id)
    data = request.get_json(silent=True)
    ticket = data.get("ticket") if isinstance(data, dict) else None
    if not isinstance(ticket, str) or not ticket:
        abort(400, "Send JSON with the 'ticket' of the upload.")
    stored = storage.finalize(ticket)
    attachment = record(post, stored)
    return jsonify(
        id=attachment.key.id(),
        filename=attachment.filename,
        size=attachment.size,
        download=url_for(
            "attachments.download", post_id=post_id, attachment_id=attachment.key.id()
        ),
    ), 201


@bp.get("/p/<int:post_id>/a/<int:attachment_id>")
def download(post_id: int, attachment_id: int) -> t.Any:
    post = get_post(post_id)
    if not 0 < attachment_id <= MAX_ID:
        abort(404)  # Datastore refuses such ids with an error: no attachment has one
    attachment = Attachment.get_by_id(attachment_id, parent=post.key)
    if attachment is None:
        abort(404)
    target = stored_file(attachment)
    if request.args.get("signed"):
        try:
            return redirect(storage.download_url(target, download_name=attachment.filename))
        except SigningError:
            pass  # no signing credentials here: stream it instead
    return storage.send(target, download_name=attachment.filename)


def current_user_owns(post: Post) -> bool:
    return g.user is not None and post.author == g.user.key
