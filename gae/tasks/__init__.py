"""Background work on Cloud Tasks: ``defer()``, ``@task``, transactional tasks, ``iterate()``.

App Engine's Python 2 ``deferred`` library, rebuilt on Cloud Tasks for Python 3::

    from gae.tasks import defer

    defer(send_welcome, user.key, _countdown=60)

Nothing here imports ``google.cloud.*`` until a task is enqueued or run. See
docs/tasks.md for the guide and the migration table.
"""

from __future__ import annotations

from .client import set_client_factory
from .decorator import Task, task
from .defer import TaskHandle, defer
from .errors import PayloadError, PermanentTaskFailure, TaskError
from .extension import DEFAULT_URL, ENDPOINT, Tasks
from .handler import TaskInfo, current_task
from .iterate import get_iteration, iterate
from .options import CURRENT, TaskOptions

__all__ = [
    "CURRENT",
    "DEFAULT_URL",
    "ENDPOINT",
    "PayloadError",
    "PermanentTaskFailure",
    "Task",
    "TaskError",
    "TaskHandle",
    "TaskInfo",
    "TaskOptions",
    "Tasks",
    "current_task",
    "defer",
    "get_iteration",
    "iterate",
    "set_client_factory",
    "task",
]
