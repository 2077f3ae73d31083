"""The Cloud Tasks client: one per process, built on first use, pointed at the emulator
when ``CLOUD_TASKS_EMULATOR_HOST`` is set.

``google.cloud.tasks_v2`` is imported only here and only when a task is enqueued, so an
app's cold start does not pay for it (about 150 ms on an F1 instance).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import typing as t
import urllib.request

from gae.lazy_client import LazyClient
from gae.settings import get_settings

from .errors import TaskError

logger = logging.getLogger("gae.tasks")

#: ``host:port`` of a local Cloud Tasks emulator (insecure gRPC); set by the harness.
EMULATOR_HOST_VAR = "CLOUD_TASKS_EMULATOR_HOST"
#: The Cloud Tasks location (the App Engine app's region, e.g. ``europe-west1``).
LOCATION_VAR = "CLOUD_TASKS_LOCATION"
#: Location used with the emulator when none is configured.
LOCAL_LOCATION = "local"
_METADATA_REGION = "http://metadata.google.internal/computeMetadata/v1/instance/region"


def emulator_host() -> str | None:
    """The emulator's ``host:port``, or ``None`` for the real Cloud Tasks."""
    return os.environ.get(EMULATOR_HOST_VAR) or None


def _default_client() -> t.Any:
    from google.cloud import tasks_v2

    host = emulator_host()
    if host:
        import grpc
        from google.cloud.tasks_v2.services.cloud_tasks.transports import (
            CloudTasksGrpcTransport,
        )

        channel = grpc.insecure_channel(host)
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    if not get_settings().on_app_engine:
        # Off App Engine the default credentials would be looked for on a metadata server:
        # say what is missing instead of waiting for that.
        raise TaskError(
            f"No Cloud Tasks emulator is configured ({EMULATOR_HOST_VAR} is not set) and this "
            "is not App Engine, so the task has nowhere to go. Run the app with 'make run' "
            "or 'framework emulators start' (they start the emulator and set the variable), "
            "use the pytest plugin's cloud_tasks fixture, or give gae.tasks."
            "set_client_factory() a client for the real Cloud Tasks."
        )
    return tasks_v2.CloudTasksClient()


_clients = LazyClient(_default_client)


def get_client() -> t.Any:
    """The process's ``tasks_v2.CloudTasksClient`` (created on first use, thread-safe)."""
    return _clients.get()


def set_client_factory(factory: t.Callable[[], t.Any] | None) -> None:
    """Build the client with ``factory`` from now on (``None``: the default); the client
    already built is dropped (tests that start another emulator call this)."""
    _clients.set_factory(factory)
    _location_cache.clear()


_location_cache: dict[str, str] = {}
_location_lock = threading.Lock()


def _metadata_region() -> str:
    request = urllib.request.Request(_METADATA_REGION, headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(request, timeout=2.0) as response:
        # "projects/123456789/regions/europe-west1"
        return str(response.read().decode().rsplit("/", 1)[-1])


def location(configured: str | None = None) -> str:
    """The Cloud Tasks location: ``configured`` (``TASKS_LOCATION``), else
    ``CLOUD_TASKS_LOCATION`` or ``GOOGLE_CLOUD_REGION``, else on App Engine the instance's
    region from the metadata server (asked once), else ``local``."""
    if configured:
        return configured
    explicit = os.environ.get(LOCATION_VAR) or get_settings().region
    if explicit:
        return explicit
    if emulator_host() or not get_settings().on_app_engine:
        return LOCAL_LOCATION
    with _location_lock:
        if "region" not in _location_cache:
            try:
                _location_cache["region"] = _metadata_region()
            except OSError as error:
                raise TaskError(
                    f"The Cloud Tasks location could not be read from the metadata server "
                    f"({error}). Set TASKS_LOCATION in the app's config (or "
                    f"{LOCATION_VAR} in app.yaml's env_variables) to the App Engine app's "
                    "region, e.g. 'europe-west1'."
                ) from None
        return _location_cache["region"]


def queue_path(queue: str, location_id: str) -> str:
    """``projects/P/locations/L/queues/Q`` for the configured project."""
    project = get_settings().project
    if not project:
        raise TaskError(
            "No Google Cloud project is configured, so tasks have no queue to go to. Set "
            "GOOGLE_CLOUD_PROJECT (App Engine sets it; the emulator harness exports it)."
        )
    return f"projects/{project}/locations/{location_id}/queues/{queue}"


class Created(t.NamedTuple):
    """The outcome of one create_task call."""

    name: str
    created: bool


def create_task(parent: str, task: dict[str, t.Any]) -> Created:
    """Create ``task`` in queue ``parent``; a name already taken is reported, not raised.

    On the emulator a missing queue is created on the fly, so any queue name works
    locally; on Cloud Tasks it is an error that names the command creating it.
    """
    from google.api_core import exceptions

    client = get_client()
    for attempt in range(2):
        try:
            created = client.create_task(parent=parent, task=task)
        except exceptions.AlreadyExists:
            return Created(str(task.get("name", "")), False)
        except (exceptions.NotFound, exceptions.FailedPrecondition) as error:
            if emulator_host() and attempt == 0:
                location_path, _, _ = parent.rpartition("/queues/")
                client.create_queue(parent=location_path, queue={"name": parent})
                continue
            queue = parent.rsplit("/", 1)[-1]
            location_id = parent.split("/")[3]
            raise TaskError(
                f"Cloud Tasks refused the task for queue {parent!r} ({error.message}). Create "
                f"the queue: 'gcloud tasks queues create {queue} --location={location_id}' (or "
                "list it in queue.yaml and 'gcloud app deploy queue.yaml')."
            ) from error
        return Created(str(created.name), True)
    raise AssertionError("unreachable")  # pragma: no cover


def schedule_time(countdown: float | None, eta: dt.datetime | None) -> dt.datetime | None:
    """When the task should run (UTC), from a countdown in seconds or an ``eta``."""
    if countdown is not None:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=countdown)
    if eta is not None:
        return eta if eta.tzinfo is not None else eta.replace(tzinfo=dt.UTC)
    return None


def describe(task: t.Any) -> dict[str, t.Any]:
    """A task as plain data: name, schedule time, attempts, function (for listings)."""
    request = task.app_engine_http_request
    function = None
    body = bytes(request.body or b"")
    head, _, _ = body.rpartition(b".")
    try:
        function = json.loads(head or body).get("fn")
    except (ValueError, AttributeError):
        function = None
    scheduled = task.schedule_time
    return {
        "name": task.name,
        "short_name": task.name.rsplit("/", 1)[-1],
        "queue": task.name.split("/tasks/")[0].rsplit("/", 1)[-1],
        "relative_uri": request.relative_uri,
        "schedule_time": scheduled if scheduled and scheduled.timestamp() > 0 else None,
        "dispatch_count": int(task.dispatch_count),
        "function": function,
    }
