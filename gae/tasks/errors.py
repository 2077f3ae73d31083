"""What goes wrong with tasks, as exceptions under :class:`gae.errors.GaeError`."""

from __future__ import annotations

from gae.errors import GaeError


class TaskError(GaeError):
    """A task could not be enqueued or run; the message says why and how to fix it."""


class PayloadError(TaskError, TypeError):
    """A deferred function or one of its arguments cannot be sent in a task as JSON."""


class PermanentTaskFailure(TaskError):
    """Raise it in a task to stop it for good: it is logged and never retried.

    Any other exception makes the task fail with HTTP 500, and Cloud Tasks retries it
    with the queue's back-off.
    """
