"""Where Datastore sessions live: the entity, and the reads and writes of it.

One entity per session, keyed by the session id. The payload is tagged JSON (never
pickle) in an unindexed property; ``expires`` is indexed so expired sessions can be found
for cleanup, and suits a Datastore TTL policy. Writes merge only the keys a request
changed into the stored payload inside a transaction, so two concurrent requests of one
user that change different keys both keep their changes; and a write checks, in the same
transaction, that the session still exists, so a request that was running during a
logout or a login cannot bring back the session those ended.
"""

from __future__ import annotations

import threading
import time
import typing as t
from datetime import UTC, datetime

from framework.json.tag import TaggedJSONSerializer
from gae.errors import GaeError

#: Datastore's entity size limit (1 MiB minus 4 bytes), less room for the key and the
#: other properties.
ENTITY_LIMIT = 1_048_572
PAYLOAD_LIMIT = ENTITY_LIMIT - 1_024

_serializer = TaggedJSONSerializer()
_models: dict[str, t.Any] = {}
_models_lock = threading.Lock()


class SessionTooLarge(GaeError, ValueError):
    """The session would not fit in one Datastore entity; nothing was written."""


class SessionStoreUnavailable(GaeError, RuntimeError):
    """Datastore could not be reached, or stayed too contended, for a session operation."""


def now() -> datetime:
    """The current time, timezone-aware (what ndb stores as UTC)."""
    return datetime.now(UTC)


def session_model(kind: str) -> t.Any:
    """The ndb model class for sessions of entity kind ``kind`` (created once per kind)."""
    model = _models.get(kind)
    if model is not None:
        return model
    with _models_lock:
        model = _models.get(kind)
        if model is None:
            from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

            attrs = {
                "data": ndb.TextProperty(),
                "expires": ndb.DateTimeProperty(tzinfo=UTC),
                "updated": ndb.DateTimeProperty(tzinfo=UTC, indexed=False),
                "__module__": __name__,
            }
            # ndb names a model's kind after its class: no override of Model._get_kind.
            model = type(kind, (ndb.Model,), attrs)
            _models[kind] = model
    return model


def dumps(data: dict[str, t.Any]) -> str:
    """Tagged JSON of the session data."""
    return _serializer.dumps(data)


def loads(payload: str | None) -> dict[str, t.Any]:
    """Session data from tagged JSON; unreadable payloads give an empty session."""
    if not payload:
        return {}
    try:
        data = _serializer.loads(payload)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def check_size(payload: str) -> None:
    """Raise :class:`SessionTooLarge` before writing a payload Datastore would refuse."""
    size = len(payload.encode("utf-8"))
    if size > PAYLOAD_LIMIT:
        raise SessionTooLarge(
            f"The session payload is {size:,} bytes, over the {PAYLOAD_LIMIT:,} bytes a "
            f"Datastore entity can hold (limit {ENTITY_LIMIT:,} bytes per entity). Nothing "
            "was written: keep large data in Cloud Storage or in entities of its own and "
            "store only a reference in the session."
        )


class Store:
    """Session reads and writes for one kind and namespace, with bounded retries.

    ``timeout``: seconds per Datastore call; ``retries``: how often a call (or a
    transaction) is retried when Datastore is unreachable; ``transaction_retries``: how
    often a transaction that lost to a concurrent one is retried.
    """

    def __init__(
        self,
        kind: str = "Session",
        namespace: str | None = None,
        *,
        timeout: float = 5.0,
        retries: int = 1,
        transaction_retries: int = 8,
    ) -> None:
        self.kind = kind
        self.namespace = namespace
        self.timeout = timeout
        self.retries = retries
        self.transaction_retries = transaction_retries

    def key(self, sid: str) -> t.Any:
        """The entity key of session ``sid``."""
        from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

        return ndb.Key(self.kind, sid, namespace=self.namespace)

    def _options(self) -> dict[str, t.Any]:
        # The in-context cache would hide other requests' writes from our transaction.
        return {"timeout": self.timeout, "retries": self.retries, "use_cache": False}

    def _transaction(self, apply: t.Callable[[], None]) -> None:
        """Run ``apply`` in a transaction: contention is retried ``transaction_retries``
        times, an unreachable Datastore only ``retries`` times.

        ndb's own transaction retries treat both alike, with a back-off growing to a
        minute: a session write while Datastore was down took 80 s to fail.
        """
        from google.api_core import exceptions as api
        from google.api_core.retry import exponential_sleep_generator
        from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

        delays = exponential_sleep_generator(1.0, 60.0, 2.0)  # ndb's back-off
        contended = failed = 0
        while True:
            try:
                ndb.transaction(apply, retries=0)
                return
            except (api.Aborted, api.RetryError) as error:
                cause = error.cause if isinstance(error, api.RetryError) else error
                if not isinstance(cause, api.Aborted):
                    raise  # a call inside gave up after its own retries
                contended += 1
                if contended > self.transaction_retries:
                    raise
            except (api.ServiceUnavailable, api.InternalServerError, api.Unknown):
                failed += 1
                if failed > self.retries:
                    raise
            time.sleep(next(delays))

    def load(self, sid: str) -> tuple[dict[str, t.Any], datetime] | None:
        """``(data, expires)`` of a live session, or ``None`` if missing or expired."""
        with _unavailable_as_error("reading a session"):
            entity = self.key(sid).get(**self._options())
        if entity is None or entity.expires is None or entity.expires <= now():
            return None
        return loads(entity.data), entity.expires

    def create(self, sid: str, data: dict[str, t.Any], expires: datetime) -> None:
        """Write a new session (a fresh random id cannot collide: no transaction)."""
        payload = dumps(data)
        check_size(payload)
        model = session_model(self.kind)
        entity = model(key=self.key(sid), data=payload, expires=expires, updated=now())
        with _unavailable_as_error("writing a session"):
            entity.put(**self._options())

    def merge(
        self,
        sid: str,
        changes: dict[str, t.Any],
        removed: set[str],
        replace: dict[str, t.Any] | None,
        expires: datetime,
    ) -> dict[str, t.Any] | None:
        """Apply one request's changes to the stored session ``sid`` in a transaction.

        Only ``changes`` and ``removed`` are applied to what is stored now (``replace``,
        when given, overwrites the whole payload instead); a session left empty is
        deleted. Returns the data as stored (``{}`` when deleted), or
        ``None`` without writing anything when the session no longer exists (deleted at
        logout, moved to a new id at login, or expired): a save never brings back a
        session another request ended. New sessions are written with :meth:`create`.
        """
        key = self.key(sid)
        written: dict[str, t.Any] = {}
        found: list[bool] = []

        def apply() -> None:
            entity = key.get(**self._options())
            found[:] = [_alive(entity)]
            if not found[0]:
                return
            if replace is not None:
                data = dict(replace)
            else:
                data = loads(entity.data)
                data.update(changes)
                for name in removed:
                    data.pop(name, None)
            written.clear()
            if not data:
                key.delete(use_cache=False)  # an empty session is no session
                return
            payload = dumps(data)
            check_size(payload)
            entity.data = payload
            entity.expires = expires
            entity.updated = now()
            entity.put(use_cache=False)
            written.update(data)

        with _unavailable_as_error("saving a session"):
            self._transaction(apply)
        return written if found and found[0] else None

    def touch(self, sid: str, expires: datetime) -> bool:
        """Push a live session's expiry forward; ``False`` if it no longer exists."""
        key = self.key(sid)
        found: list[bool] = []

        def apply() -> None:
            entity = key.get(**self._options())
            found[:] = [_alive(entity)]  # an expired session stays expired
            if found[0]:
                entity.expires = expires
                entity.updated = now()
                entity.put(use_cache=False)

        with _unavailable_as_error("refreshing a session"):
            self._transaction(apply)
        return bool(found and found[0])

    def delete(self, *sids: str) -> None:
        """Delete sessions by id."""
        from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

        with _unavailable_as_error("deleting a session"):
            ndb.delete_multi([self.key(sid) for sid in sids], **self._options())

    def replace_id(
        self, old_sid: str | None, new_sid: str, data: dict[str, t.Any], expires: datetime
    ) -> bool:
        """Store ``data`` under ``new_sid`` and delete ``old_sid``, atomically.

        ``False``, with nothing written, when ``old_sid`` no longer exists (a concurrent
        request deleted or moved it): its data must not come back under a new id.
        """
        payload = dumps(data)
        check_size(payload)
        model = session_model(self.kind)
        found: list[bool] = []

        def apply() -> None:
            if old_sid is not None:
                old_key = self.key(old_sid)
                found[:] = [_alive(old_key.get(**self._options()))]
                if not found[0]:
                    return
                old_key.delete()
            model(key=self.key(new_sid), data=payload, expires=expires, updated=now()).put()

        with _unavailable_as_error("regenerating a session"):
            self._transaction(apply)
        return old_sid is None or bool(found and found[0])

    def cleanup(
        self, *, batch_size: int = 500, time_budget: float = 20.0, cursor: t.Any = None
    ) -> tuple[int, t.Any]:
        """Delete expired sessions in batches until none are left or time runs out.

        Returns ``(deleted, cursor)``; the cursor is ``None`` when everything expired was
        deleted, else pass it to the next call to continue.
        """
        from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

        model = session_model(self.kind)
        deadline = time.monotonic() + time_budget
        cutoff = now()
        deleted = 0
        query = model.query(model.expires < cutoff, namespace=self.namespace)
        while True:
            with _unavailable_as_error("cleaning up sessions"):
                keys, cursor, more = query.fetch_page(
                    batch_size, keys_only=True, start_cursor=cursor
                )
                if keys:
                    ndb.delete_multi(keys)
            deleted += len(keys)
            if not more or not keys:
                return deleted, None
            if time.monotonic() >= deadline:
                return deleted, cursor


def _alive(entity: t.Any) -> bool:
    """Whether a stored session entity exists and has not expired."""
    return entity is not None and entity.expires is not None and entity.expires > now()


class _unavailable_as_error:
    """Turn Datastore failures into :class:`SessionStoreUnavailable` with context."""

    def __init__(self, action: str) -> None:
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: t.Any
    ) -> None:
        if exc is None or isinstance(exc, SessionTooLarge):
            return
        # RPC failures (unavailable, deadline, contention that outlived the retries);
        # programming errors such as a missing ndb context still surface as they are.
        import grpc  # type: ignore[import-untyped, unused-ignore]
        from google.api_core import exceptions as api

        if isinstance(exc, api.GoogleAPIError | grpc.RpcError):
            raise SessionStoreUnavailable(
                f"Datastore failed while {self.action}: {type(exc).__name__}: {exc}"
            ) from exc
