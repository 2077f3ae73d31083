"""Background work on Cloud Tasks (``gae.tasks``): attachment scans and a daily digest.

* Every stored attachment is scanned in a task after the upload: the object is read back
  from Cloud Storage, its size checked against the record and its SHA-256 kept, so the
  upload request does not wait for a second pass over the file.
* App Engine Cron calls ``/jobs/daily-digest`` once a day (cron.yaml); it walks the
  previous day's posts with ``iterate()`` (one task per batch, any number of posts) and
  the finaliser publishes the day's :class:`Digest`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import typing as t

from google.api_core.exceptions import GoogleAPIError, NotFound
from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

import gae
from framework import Blueprint, abort, request
from gae.tasks import PermanentTaskFailure, TaskError, iterate, task

from .files import storage
from .models import Attachment, Post

bp = Blueprint("jobs", __name__)
logger = logging.getLogger(__name__)


class Digest(ndb.Model):  # type: ignore[misc]
    """One day's posts: how many, by whom; ``complete`` once every post was counted."""

    posts = ndb.IntegerProperty(default=0, indexed=False)
    authors = ndb.JsonProperty(default={})
    post_ids = ndb.IntegerProperty(repeated=True, indexed=False)
    complete = ndb.BooleanProperty(default=False)
    run_id = ndb.TextProperty()


@task(queue="default", retries=5)
def scan_attachment(attachment_key: ndb.Key) -> None:
    """Read the stored object back; record its SHA-256 and whether its size matches."""
    attachment = attachment_key.get()
    if attachment is None:
        return  # the post was deleted before the scan ran
    blob = storage.client.bucket(attachment.bucket).blob(attachment.object_name)
    digest = hashlib.sha256()
    size = 0
    try:
        with blob.open("rb", chunk_size=1024 * 1024) as stream:
            for chunk in iter(lambda: stream.read(1024 * 1024), b""):
                digest.update(chunk)
                size += len(chunk)
    except NotFound:
        raise PermanentTaskFailure(f"{attachment.object_name} is not in the bucket") from None
    # Any other error (a Cloud Storage hiccup) fails the task: Cloud Tasks retries it.
    attachment.sha256 = digest.hexdigest()
    attachment.scan = "ok" if size == attachment.size else f"size mismatch: {size} bytes stored"
    attachment.put()


def enqueue_scan(attachment: Attachment) -> None:
    """Scan ``attachment`` in a task; if Cloud Tasks cannot take it, keep the upload and
    log (the attachment stays unscanned: ``scan`` is empty) instead of failing it."""
    try:
        scan_attachment.defer(attachment.key)
    except (TaskError, GoogleAPIError) as error:
        logger.warning(
            "Attachment %s was stored but not queued for a scan: %s", attachment.key, error
        )


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def add_to_digest(post: Post) -> None:
    """Count one post in its day's digest (idempotent: a post is counted once)."""
    day = post.created.date().isoformat()

    def update() -> None:
        digest = Digest.get_by_id(day) or Digest(id=day)
        if post.key.id() in digest.post_ids:
            return
        digest.post_ids.append(post.key.id())
        digest.posts += 1
        authors = dict(digest.authors or {})
        name = post.author_name or "?"
        authors[name] = authors.get(name, 0) + 1
        digest.authors = authors
        digest.put()

    ndb.transaction(update)


def publish_digest(run: t.Any) -> None:
    """The finaliser: mark the day's digest complete (created empty if nobody posted)."""
    day = str(run.key.id()).removeprefix("digest-")

    def update() -> None:
        digest = Digest.get_by_id(day) or Digest(id=day)
        digest.complete = True
        digest.run_id = str(run.key.id())
        digest.put()

    ndb.transaction(update)


def start_digest(day: dt.date) -> str:
    """Walk ``day``'s posts in tasks; returns the iteration run id."""
    start, end = day_bounds(day)
    query = Post.query(Post.created >= start, Post.created < end)
    # One run per day: the run id names it, and its task names de-duplicate a second call.
    return iterate(
        query,
        add_to_digest,
        batch_size=200,
        then=publish_digest,
        run_id=f"digest-{day.isoformat()}",
    )


@bp.get("/jobs/daily-digest")
@gae.cron_only
def daily_digest() -> dict[str, str]:
    """Cron: digest yesterday's posts (``?day=YYYY-MM-DD`` for another day)."""
    raw = request.args.get("day")
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    try:
        day = dt.date.fromisoformat(raw) if raw else yesterday
    except ValueError:
        abort(400, f"day must be a date as YYYY-MM-DD, not {raw!r}.")
    return {"run": start_digest(day), "day": day.isoformat()}
