"""``defer(fn, *args, **kwargs)``: run ``fn(*args, **kwargs)`` later, in a task.

The task is an App Engine HTTP task on Cloud Tasks that posts the signed payload to the
route the :class:`~gae.tasks.Tasks` extension registered, on the service and version that
enqueued it (unless told otherwise). Payloads too large for a task (Cloud Tasks takes
100 KB) are stored in Datastore and read back by the handler.
"""

from __future__ import annotations

import logging
import time
import typing as t
import uuid
import zlib

from gae.logging import current_trace
from gae.settings import get_settings

from . import client
from .errors import PayloadError, TaskError
from .extension import Tasks
from .options import CURRENT, TaskOptions, split_options
from .payload import Call, encode_call, function_path

#: Largest body sent inline; Cloud Tasks caps a whole task at 100 KB, headers included.
INLINE_LIMIT = 90_000
#: Largest compressed payload stored in Datastore (an entity holds at most 1,048,572 bytes).
STORED_LIMIT = 1_000_000

#: The function path of a body that refers to a stored payload.
STORED = "@stored"

logger = logging.getLogger("gae.tasks")


class TaskHandle(t.NamedTuple):
    """What :func:`defer` did.

    ``created`` is ``False`` when a task of that name existed already (nothing was added)
    and ``None`` for a transactional task not yet enqueued (that happens on commit).
    """

    queue: str
    name: str | None
    created: bool | None


def defer(fn: t.Callable[..., t.Any], /, *args: t.Any, **kwargs: t.Any) -> TaskHandle:
    """Run ``fn(*args, **kwargs)`` in a Cloud Tasks task.

    Options are keyword arguments with a leading underscore (the deferred function gets
    every other one):

    ``_queue``
        queue name (default: ``TASKS_QUEUE``, ``default``);
    ``_countdown`` / ``_eta``
        seconds to wait, or the ``datetime`` to run at (naive means UTC);
    ``_name``
        task name: a second task of the same name is not added (``created`` is False,
        and an INFO line says so); Cloud Tasks keeps names taken for about an hour after
        the task ran;
    ``_service`` / ``_version``
        where it runs (default: the service and version calling ``defer``; ``None``: the
        queue's default, i.e. the version serving traffic);
    ``_retries`` / ``_age_limit``
        give up (log, no more retries) after this many retries or seconds since enqueued;
        the back-off between retries is the queue's (``retry_parameters`` in queue.yaml);
    ``_transactional``
        inside ``ndb.transaction()``: enqueue only if the transaction commits.
    """
    options, rest = split_options(kwargs)
    return enqueue(fn, args, rest, options)


def enqueue(
    fn: t.Callable[..., t.Any],
    args: tuple[t.Any, ...] | list[t.Any],
    kwargs: dict[str, t.Any],
    options: TaskOptions,
    tasks: Tasks | None = None,
) -> TaskHandle:
    """:func:`defer` with its options given as :class:`TaskOptions`."""
    ext = tasks or Tasks.current()
    config = ext.config
    trace = current_trace.get()
    call = Call(
        path=function_path(fn),
        args=list(args),
        kwargs=kwargs,
        retries=options.retries,
        age_limit=options.age_limit,
        enqueued_at=round(time.time(), 3),
        trace=trace.trace_id if trace is not None else None,
    )
    document = encode_call(call)  # argument errors surface here, in the caller
    signer = ext.signer()
    queue = options.queue or str(config["TASKS_QUEUE"])
    parent = client.queue_path(queue, client.location(config.get("TASKS_LOCATION")))
    task: dict[str, t.Any] = {
        "app_engine_http_request": {
            "http_method": "POST",
            "relative_uri": ext.url,
            "headers": {"Content-Type": "application/json"},
        }
    }
    routing = _routing(options)
    if routing:
        task["app_engine_http_request"]["app_engine_routing"] = routing
    if options.name:
        task["name"] = f"{parent}/tasks/{options.name}"
    when = client.schedule_time(options.countdown, options.eta)
    if when is not None:
        task["schedule_time"] = when

    stored = _stored_payload(document) if len(document) > INLINE_LIMIT else None
    if stored is not None:
        # Inside a transaction this write is part of it: a rollback leaves no payload.
        stored.put()

    def send() -> client.Created:
        body = document
        if stored is not None:
            body = encode_call(Call(STORED, [stored.key.id()], {}))
        task["app_engine_http_request"]["body"] = signer.sign(body)
        created = client.create_task(parent, task)
        if not created.created:
            if stored is not None:
                stored.key.delete()
            logger.info(
                "Task %s already exists in queue %s: not enqueued again.", options.name, queue
            )
        return created

    if options.transactional:
        from .transactional import on_commit

        on_commit(send)
        return TaskHandle(queue, options.name, None)
    created = send()
    return TaskHandle(queue, created.name.rsplit("/", 1)[-1] or options.name, created.created)


def _routing(options: TaskOptions) -> dict[str, str]:
    settings = get_settings()
    here = settings.on_app_engine
    service = (
        (settings.service if here else None) if options.service is CURRENT else options.service
    )
    version = settings.version if options.version is CURRENT else options.version
    routing: dict[str, str] = {}
    if service:
        routing["service"] = str(service)
    if version:
        routing["version"] = str(version)
    return routing


def _stored_payload(document: bytes) -> t.Any:
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    from .models import payload_model

    packed = zlib.compress(document, 6)
    if len(packed) > STORED_LIMIT:
        raise PayloadError(
            f"The task payload is {len(document):,} bytes ({len(packed):,} compressed), over "
            f"the {STORED_LIMIT:,} bytes a Datastore entity can hold. Store the data in Cloud "
            "Storage and pass the object's name to the task instead."
        )
    if ndb.get_context(False) is None:
        raise TaskError(
            f"The task payload is {len(document):,} bytes, over Cloud Tasks' 100 KB, so it is "
            "stored in Datastore, which needs an ndb context: defer it inside a request of a "
            "gae.wrap'ed app, or inside 'with ndb_client.context():'."
        )
    return payload_model()(id=uuid.uuid4().hex, data=packed)
