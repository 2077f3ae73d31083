"""Attachments: small files through the app, large ones straight to Cloud Storage.

* ``POST /p/<id>/attachments``: a multipart form; the file streams into the bucket while
  the request is read (``gae.storage``), up to ``files.SMALL_LIMIT``. Its guard
  (:func:`may_attach`: logged in, the post's author, the CSRF token from the header or the
  query string) runs before a byte of the body is read, whoever reads it first.
* ``POST /p/<id>/attachments/direct``: JSON ``{filename, content_type, size}``; answers a
  resumable upload session the browser ``PUT``s the file to (no 32 MiB request limit),
  then ``POST /p/<id>/attachments/finalize`` with the ticket checks and records it. The
  upload is handed out for one purpose (this post, this user): finalize refuses it for
  any other, and finalizes it once.
* ``GET /p/<id>/a/<attachment>``: the file, streamed (``Range`` supported); ``?signed=1``
  redirects to a short-lived signed URL where signing credentials exist.
"""

from __future__ import annotations

import typing as t

from framework import Blueprint, abort, flash, g, jsonify, redirect, request, url_for
from gae.storage import SigningError

from .csrf import sent_token, verify
from .errors import DATASTORE_UNAVAILABLE
from .files import record, storage, stored_file
from .jobs import enqueue_scan
from .models import Attachment, Post
from .posts import MAX_ID, get_post, own_post
from .security import login_required, require_login
from .validation import json_object, whole_number

bp = Blueprint("attachments", __name__)


def may_attach() -> None:
    """The upload guard: runs before the first byte of the file is stored.

    The same checks as the view's, in its order (an anonymous visitor goes to the login
    page, a stranger gets 403), plus the CSRF token, which a multipart post sends in the
    header or the query string: reading its body is what stores the file.
    """
    require_login()
    own_post(int((request.view_args or {}).get("post_id", 0)))
    verify(sent_token())


def purpose(post: Post) -> str:
    """What a direct upload is handed out for: this post, by this user."""
    return f"attachment:post={post.key.id()}:user={g.user.key.id()}"


@bp.post("/p/<int:post_id>/attachments")
@login_required
@storage.accepts_uploads(allow=may_attach)
def upload(post_id: int) -> t.Any:
    post = own_post(post_id)
    files = storage.receive()
    if not files:
        abort(400, "Choose a file to upload.")
    try:
        attachment = record(post, files[0])
    except DATASTORE_UNAVAILABLE:
        # The record may have been committed although the call failed: keep the object,
        # so that no attachment ever points at a deleted one.
        storage.keep()
        raise
    enqueue_scan(attachment)
    flash(f"Attached {files[0].original_filename}.", "success")
    return redirect(url_for("posts.show", post_id=post_id))


@bp.post("/p/<int:post_id>/attachments/direct")
@login_required
def direct_upload(post_id: int) -> t.Any:
    post = own_post(post_id)
    data = json_object("Send JSON with 'filename', 'content_type' and 'size'.")
    size = whole_number(data.get("size"), "size", "the file's size in bytes")
    upload = storage.resumable_upload(
        str(data.get("filename") or ""),
        str(data.get("content_type") or ""),
        size,
        purpose=purpose(post),
        origin=request.origin,
    )
    body = upload.to_dict()
    body["finalize"] = url_for("attachments.finalize", post_id=post_id)
    return jsonify(body), 201


@bp.post("/p/<int:post_id>/attachments/finalize")
@login_required
def finalize(post_id: int) -> t.Any:
    post = own_post(post_id)
    data = json_object("Send JSON with the 'ticket' of the upload.")
    ticket = data.get("ticket")
    if not isinstance(ticket, str) or not ticket:
        abort(400, "Send JSON with the 'ticket' of the upload.")
    stored = storage.finalize(ticket, purpose=purpose(post))
    attachment = record(post, stored)
    enqueue_scan(attachment)
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
