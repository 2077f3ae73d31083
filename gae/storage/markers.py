"""The Datastore record of each direct upload still waiting to be finalized.

Part of :mod:`gae.storage`. Issuing a direct upload (a signed URL, a POST policy or a
resumable session) writes one small entity, keyed by the bucket and the generated object
name, holding a digest of the caller's ``purpose`` and the time after which nothing can
create or finalize the object any more. :meth:`gae.storage.Storage.finalize` *claims*
it in a Datastore transaction before it reads anything from Cloud Storage, and deletes it
once the object is recorded or rejected. So:

* finalize acts only on objects this app handed out an upload for: a ticket naming any
  other object (forged with a leaked or retired ``SECRET_KEY``) finds no record, and
  nothing is read or deleted;
* a ticket is single-use: of two finalizes of one ticket, concurrent or not, the
  transaction lets exactly one claim the record; the other gets a 409;
* a ticket is bound to its purpose: the record's digest must match the one finalize is
  given;
* an upload nobody finalized is found by its record once it expires, and
  :func:`gae.storage.cleanup_uploads` deletes the object and the record.

Why Datastore and not an object precondition: the record must exist *before* the object
does (so that finalize can refuse objects it never issued), and Datastore transactions
serialise concurrent claims everywhere, the emulator included; a metadata precondition
(``if_metageneration_match``) is not enforced by every Cloud Storage emulator.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import threading
import typing as t

from .policy import UploadConflict, UploadForbidden

#: Datastore kind of the records.
KIND = "GaeDirectUpload"
PENDING = "pending"
CLAIMED = "claimed"

_model: t.Any = None
_lock = threading.Lock()


def marker_model() -> t.Any:
    """The ndb model of the records (defined on first use: ``google.cloud.ndb`` is lazy)."""
    global _model
    with _lock:
        if _model is None:
            from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

            attrs = {
                "__module__": __name__,
                "bucket": ndb.TextProperty(),
                "object_name": ndb.TextProperty(),
                "purpose": ndb.TextProperty(),
                "state": ndb.TextProperty(),
                "created": ndb.DateTimeProperty(tzinfo=datetime.UTC, indexed=False),
                # Indexed: the clean-up queries records that expired.
                "expires": ndb.DateTimeProperty(tzinfo=datetime.UTC),
            }
            # ndb names a model's kind after its class: no override of Model._get_kind.
            _model = type(KIND, (ndb.Model,), attrs)
        return _model


def purpose_digest(purpose: str) -> str:
    """What is kept of ``purpose``: its SHA-256 (the text may name a user)."""
    return hashlib.sha256(purpose.encode("utf-8", "surrogatepass")).hexdigest()


def _key(bucket: str, name: str) -> t.Any:
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    return ndb.Key(KIND, f"{bucket}/{name}")


def open_record(
    bucket: str, name: str, purpose: str, now: datetime.datetime, expires: datetime.datetime
) -> None:
    """Record a direct upload of ``bucket/name`` for ``purpose`` (before it is handed out)."""
    from gae.ndb import ensure_context

    model = marker_model()
    with ensure_context():
        model(
            key=_key(bucket, name),
            bucket=bucket,
            object_name=name,
            purpose=purpose_digest(purpose),
            state=PENDING,
            created=now,
            expires=expires,
        ).put()


def claim(bucket: str, name: str, purpose: str, now: datetime.datetime) -> None:
    """Take the record of ``bucket/name`` for one finalize; 409 or 403 if it cannot be."""
    from google.api_core.exceptions import Aborted
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    from gae.ndb import ensure_context

    wanted = purpose_digest(purpose)

    def take() -> None:
        record = _key(bucket, name).get(use_cache=False)
        if record is None or record.expires is None or record.expires < now:
            raise UploadConflict(
                "This upload was finalized already, or it expired, or this app never handed "
                "it out: nothing was read or deleted. Start a new upload."
            )
        if not hmac.compare_digest(str(record.purpose), wanted):
            raise UploadForbidden(
                "This upload ticket was issued for something else (another post, another "
                "user): it cannot be finalized here. Start the upload from this page."
            )
        if record.state != PENDING:
            raise UploadConflict(
                "Another request is finalizing this upload right now; it is not finalized "
                "twice. Wait for that one to finish."
            )
        record.state = CLAIMED
        record.put()

    with ensure_context():
        try:
            ndb.transaction(take, retries=3)
        except Aborted as error:
            raise UploadConflict(
                "Other requests kept finalizing this upload at the same time; try again."
            ) from error


def release(bucket: str, name: str) -> None:
    """Give a claimed record back (the object was not there yet: finalize may retry)."""
    from gae.ndb import ensure_context

    with ensure_context():
        record = _key(bucket, name).get(use_cache=False)
        if record is not None and record.state == CLAIMED:
            record.state = PENDING
            record.put()


def close(bucket: str, name: str) -> None:
    """Forget the record: the object was recorded by the app, or deleted."""
    from gae.ndb import ensure_context

    with ensure_context():
        _key(bucket, name).delete()


def expired(now: datetime.datetime, limit: int, cursor: t.Any = None) -> tuple[list[t.Any], t.Any]:
    """One page of records that expired before ``now``, and the cursor of the next."""
    model = marker_model()
    query = model.query(model.expires < now)
    records, next_cursor, more = query.fetch_page(limit, start_cursor=cursor)
    return list(records), (next_cursor if more else None)
