"""Enqueue on commit: ``defer(..., _transactional=True)`` inside ``ndb.transaction()``.

ndb runs the callbacks registered with ``call_on_commit`` once, after the commit that
succeeded; the callbacks of attempts that were rolled back (ndb retries the transaction
function on contention) are dropped with their attempt. So the task is created exactly
once, and only if the data it goes with was written.
"""

from __future__ import annotations

import typing as t

from .errors import TaskError


def on_commit(callback: t.Callable[[], t.Any]) -> None:
    """Run ``callback`` when the current ndb transaction commits."""
    import sys

    ndb = sys.modules.get("google.cloud.ndb")
    context = ndb.get_context(False) if ndb is not None else None
    if context is None or not context.in_transaction():
        raise TaskError(
            "_transactional=True needs an ndb transaction, and none is active: call defer() "
            "inside the function given to ndb.transaction() (or a @ndb.transactional "
            "function), or drop _transactional."
        )
    context.call_on_commit(callback)
