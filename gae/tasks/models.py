"""The Datastore kinds gae.tasks writes: large payloads and iteration progress.

Defined on first use, so importing :mod:`gae.tasks` does not import ndb.
"""

from __future__ import annotations

import functools
import typing as t

#: Kind of the entities holding payloads too large for a task body.
PAYLOAD_KIND = "GaeTaskPayload"
#: Kind of the progress record of each :func:`gae.tasks.iterate` run.
ITERATION_KIND = "GaeIteration"


@functools.cache
def payload_model() -> t.Any:
    """The ndb model of a stored payload (zlib-compressed JSON, deleted after the run)."""
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    class GaeTaskPayload(ndb.Model):  # type: ignore[misc]
        data = ndb.BlobProperty()
        created = ndb.DateTimeProperty(auto_now_add=True, indexed=False)

    return GaeTaskPayload


@functools.cache
def iteration_model() -> t.Any:
    """The ndb model of an iteration run's progress (one entity per run, id = run id)."""
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    class GaeIteration(ndb.Model):  # type: ignore[misc]
        function = ndb.TextProperty()
        finaliser = ndb.TextProperty()
        query = ndb.JsonProperty()
        batch_size = ndb.IntegerProperty(indexed=False)
        queue = ndb.TextProperty()
        #: running -> finishing (finaliser enqueued) -> done; or failed.
        status = ndb.StringProperty(default="running")
        batches_done = ndb.IntegerProperty(default=0, indexed=False)
        entities_seen = ndb.IntegerProperty(default=0, indexed=False)
        errors = ndb.IntegerProperty(default=0, indexed=False)
        last_error = ndb.TextProperty()
        #: Where the next batch starts (urlsafe cursor; empty: the beginning).
        cursor = ndb.TextProperty()
        started = ndb.DateTimeProperty(auto_now_add=True)
        updated = ndb.DateTimeProperty(auto_now=True, indexed=False)
        finished = ndb.DateTimeProperty(indexed=False)

    return GaeIteration
