"""Deleting direct uploads nobody finalized: :func:`cleanup_uploads` and its cron URL.

Part of :mod:`gae.storage`. A browser may upload straight to the bucket (up to the
direct policy's limit, 5 GiB by default) and never come back to finalize. Every upload
handed out has a Datastore record (:mod:`gae.storage.markers`) that expires once its
URL, session and ticket are all unusable; finalize deletes the record. So a record that
expired is an upload nobody finalized: its object (if the browser uploaded one) and the
record are deleted here. Finalized objects have no record and are never touched.

``Storage(app)`` adds the cron-only URL ``/tasks/upload-cleanup`` (endpoint
``gae_storage_cleanup``); list it in ``cron.yaml``. It deletes in pages within a time
budget, so one cron request stays well inside App Engine's deadline; the next run
continues.
"""

from __future__ import annotations

import contextlib
import datetime
import time
import typing as t

from framework import jsonify
from gae.headers import cron_only

from . import markers
from .client import utcnow

if t.TYPE_CHECKING:
    from framework import Flask

    from .extension import Storage

CLEANUP_RULE = "/tasks/upload-cleanup"
CLEANUP_ENDPOINT = "gae_storage_cleanup"
#: Records are left alone this long after they expire: a finalize that claimed one just
#: before it expired has time to finish.
GRACE = datetime.timedelta(minutes=10)


def cleanup_uploads(
    storage: Storage,
    *,
    batch_size: int = 100,
    time_budget: float = 20.0,
    now: datetime.datetime | None = None,
) -> tuple[int, bool]:
    """Delete unfinalized direct uploads whose records expired, for at most ``time_budget``
    seconds.

    Returns ``(deleted, finished)``: how many uploads were cleaned up (object, if any,
    and record), and whether none is left; run it again while ``finished`` is false.
    """
    from google.api_core.exceptions import NotFound
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    from gae.ndb import ensure_context

    cutoff = (now or utcnow()) - GRACE
    started = time.monotonic()
    deleted = 0
    cursor: t.Any = None
    with ensure_context():
        while True:
            records, cursor = markers.expired(cutoff, batch_size, cursor)
            for record in records:
                blob = storage.client.bucket(record.bucket).blob(record.object_name)
                with contextlib.suppress(NotFound):
                    blob.delete(retry=storage.retry)
            if records:
                ndb.delete_multi([record.key for record in records])
                deleted += len(records)
            if cursor is None:
                return deleted, True
            if time.monotonic() - started > time_budget:
                return deleted, False


def register_cleanup_route(app: Flask, storage: Storage, rule: str = CLEANUP_RULE) -> None:
    """Add the cron-only clean-up URL (``cron.yaml`` calls it; anyone else gets 403)."""

    @cron_only
    def upload_cleanup() -> t.Any:
        deleted, finished = cleanup_uploads(storage)
        return jsonify(deleted=deleted, finished=finished)

    app.add_url_rule(rule, CLEANUP_ENDPOINT, upload_cleanup, methods=["GET", "POST"])
