"""``iterate(query, fn, batch_size=..., then=...)``: a query of any size, in tasks.

One task per batch, chained by cursor: a batch calls ``fn(entity)`` for up to
``batch_size`` entities, then, in one Datastore transaction, records its progress in the
run's :data:`~gae.tasks.models.ITERATION_KIND` entity and enqueues the next batch (or the
finaliser) transactionally. So:

* a batch delivered twice (Cloud Tasks delivers at least once) finds its number already
  counted and only makes sure the next one is enqueued (task names de-duplicate that);
* when ``fn`` raises, the entities before the failing one are recorded as done (with the
  cursor after them) before the task fails, so the retry resumes at the failing entity:
  every entity is seen once. Only an instance dying mid-batch replays that batch's
  entities, so ``fn`` should still be idempotent;
* ``then(run)`` runs once, after the last batch, with the progress record;
* ``fn`` raising :class:`PermanentTaskFailure` marks the run ``failed`` and stops it.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t
import uuid

from gae.ndb import ensure_context

from .errors import PermanentTaskFailure, TaskError
from .models import iteration_model
from .options import TaskOptions
from .payload import function_path, resolve_function
from .query_spec import query_to_spec, spec_to_query

logger = logging.getLogger("gae.tasks")

#: The largest batch: a task on automatic scaling has 10 minutes.
MAX_BATCH = 10_000


def iterate(
    query: t.Any,
    fn: t.Callable[[t.Any], t.Any],
    *,
    batch_size: int = 500,
    then: t.Callable[[t.Any], t.Any] | None = None,
    queue: str | None = None,
    run_id: str | None = None,
) -> str:
    """Call ``fn(entity)`` for every entity of ``query`` in tasks of ``batch_size``; then
    ``then(run)`` once. Returns the run id (see :func:`get_iteration`).

    ``run_id`` names the run; a run of that id that exists already is not started again
    (a daily job can use the date, and a repeated cron call does nothing).
    """
    if not 1 <= batch_size <= MAX_BATCH:
        raise TaskError(f"batch_size must be between 1 and {MAX_BATCH}, not {batch_size!r}.")
    spec = query_to_spec(query)
    fn_path = function_path(fn)
    then_path = function_path(then) if then is not None else None
    run_id = run_id or uuid.uuid4().hex
    model = iteration_model()
    with ensure_context() as context:
        if model.get_by_id(run_id, use_cache=False, use_global_cache=False) is not None:
            # A run of that id exists (a second cron delivery): it is not started again.
            logger.info("Iteration %s exists already: not started again.", run_id)
            return run_id
        model(
            id=run_id,
            function=fn_path,
            finaliser=then_path,
            query=spec,
            batch_size=batch_size,
            queue=queue,
        ).put()
        _enqueue_batch(run_id, 0, queue, transactional=context.in_transaction())
    return run_id


def get_iteration(run_id: str) -> t.Any:
    """The progress record of a run (status, batches_done, entities_seen, errors ...)."""
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    with ensure_context():
        return ndb.Key(iteration_model(), run_id).get(use_cache=False, use_global_cache=False)


def _task_name(run_id: str, step: int | str) -> str:
    return f"gae-iterate-{run_id}-{step}"


def _enqueue_batch(run_id: str, batch_no: int, queue: str | None, *, transactional: bool) -> None:
    from .defer import enqueue

    options = TaskOptions(
        queue=queue, name=_task_name(run_id, batch_no), transactional=transactional
    )
    enqueue(run_batch, (run_id, batch_no), {}, options)


def _enqueue_finaliser(run_id: str, queue: str | None, *, transactional: bool) -> None:
    from .defer import enqueue

    options = TaskOptions(queue=queue, name=_task_name(run_id, "then"), transactional=transactional)
    enqueue(run_finaliser, (run_id,), {}, options)


def run_batch(run_id: str, batch_no: int) -> None:
    """One batch of a run (the task :func:`iterate` chains)."""
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    key = ndb.Key(iteration_model(), run_id)
    run = key.get(use_cache=False, use_global_cache=False)
    if run is None:
        raise PermanentTaskFailure(f"Iteration run {run_id!r} has no progress record.")
    if run.status in {"done", "failed"}:
        return
    if batch_no < run.batches_done:
        # Delivered again after it was counted: only make sure the chain goes on.
        if run.status == "running":
            _enqueue_batch(run_id, run.batches_done, run.queue, transactional=False)
        elif run.status == "finishing":
            _enqueue_finaliser(run_id, run.queue, transactional=False)
        return
    if batch_no > run.batches_done:
        raise TaskError(f"Batch {batch_no} of {run_id} came before batch {run.batches_done}.")
    fn = resolve_function(run.function)
    query = spec_to_query(run.query)
    start = ndb.Cursor(urlsafe=run.cursor) if run.cursor else None
    limit = run.batch_size
    # One entity more than the batch tells whether another batch is needed.
    entities = query.iter(start_cursor=start, limit=limit + 1)
    seen = 0
    cursor = start
    try:
        while seen < limit and entities.has_next():
            entity = entities.next()
            fn(entity)
            seen += 1
            cursor = entities.cursor_after()
    except PermanentTaskFailure as error:
        _record(key, batch_no, seen, cursor, error=error, failed=True)
        raise
    except Exception as error:
        _record(key, batch_no, seen, cursor, error=error)
        raise
    more = seen == limit and entities.has_next()
    _record(key, batch_no, seen, cursor, finished=True, more=more)


def _record(
    key: t.Any,
    batch_no: int,
    seen: int,
    cursor: t.Any,
    *,
    error: BaseException | None = None,
    failed: bool = False,
    finished: bool = False,
    more: bool = False,
) -> None:
    """Write a batch's progress and, when it finished, enqueue what comes next, atomically."""
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    def update() -> None:
        run = key.get(use_cache=False, use_global_cache=False)
        if run is None or run.batches_done != batch_no or run.status != "running":
            return  # another delivery of this batch got here first
        run.entities_seen += seen
        if cursor is not None:
            run.cursor = cursor.urlsafe().decode("ascii")
        if error is not None:
            run.errors += 1
            run.last_error = f"batch {batch_no}: {type(error).__name__}: {error}"[:1500]
        if failed:
            run.status = "failed"
            run.finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if finished:
            run.batches_done += 1
            if more:
                _enqueue_batch(key.id(), batch_no + 1, run.queue, transactional=True)
            elif run.finaliser:
                run.status = "finishing"
                _enqueue_finaliser(key.id(), run.queue, transactional=True)
            else:
                run.status = "done"
                run.finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        run.put()

    ndb.transaction(update)


def run_finaliser(run_id: str) -> None:
    """Call the run's ``then(run)`` once, and mark the run done."""
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    key = ndb.Key(iteration_model(), run_id)
    run = key.get(use_cache=False, use_global_cache=False)
    if run is None or run.status != "finishing":
        return
    if run.finaliser:
        resolve_function(run.finaliser)(run)

    def done() -> None:
        current = key.get(use_cache=False, use_global_cache=False)
        if current is not None and current.status == "finishing":
            current.status = "done"
            current.finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            current.put()

    ndb.transaction(done)
