"""Stored files: the Storage instance, its limits, and the records kept of each file.

Below both ``posts`` (deleting a post deletes its files) and ``attachments`` (the upload,
finalize and download views), so neither imports the other for these.
"""

from __future__ import annotations

import typing as t

from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

from gae.storage import MiB, Storage, StoredFile, UploadPolicy

from .models import Attachment, Post

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
    return attachment


def shared(attachment: Attachment) -> bool:
    """Whether another attachment record names this attachment's object."""
    others = Attachment.query(Attachment.object_name == attachment.object_name).fetch(
        2, keys_only=True
    )
    return any(key != attachment.key for key in others)


def stored_file(attachment: Attachment) -> StoredFile:
    """The :class:`StoredFile` an attachment record describes (to send or sign it)."""
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
    """Delete a post's attachments: the objects, then their records.

    An object is deleted only by the one record that owns it: if any other attachment
    (of any post) names the same object, the object stays. Uploads never share objects
    (generated names; a direct upload finalizes once), so this is the last line of
    defence, not the rule.
    """
    attachments = Attachment.query(ancestor=post.key).fetch()
    for attachment in attachments:
        if not shared(attachment):
            storage.delete(attachment.object_name)
    if attachments:
        ndb.delete_multi([a.key for a in attachments])
