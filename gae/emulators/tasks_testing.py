"""Tasks in tests: the queued tasks of the emulator, listed and run on demand.

The pytest plugin's ``cloud_tasks`` fixture is a :class:`TaskQueues`: the emulator's
queues start paused, so nothing runs behind the test's back; ``list()`` shows what is
queued and ``run_all()`` delivers every task through the emulator (its RunTask call: a
real HTTP request to the app, with the App Engine task headers), including the tasks those
tasks enqueue, until the queues are empty. ``resume()`` lets the emulator's own dispatcher
deliver them instead (countdowns, retries).

The emulator delivers to a :class:`TaskTarget`: an HTTP server in the test process that
serves whichever app the current test uses.
"""

from __future__ import annotations

import builtins
import threading
import time
import typing as t

from werkzeug.serving import make_server

from gae.errors import GaeError
from gae.tasks.client import describe

from .base import HOST

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .tasks import TasksEmulator


class TaskTarget:
    """A threaded loopback HTTP server whose WSGI app can be swapped between tests."""

    def __init__(self) -> None:
        self.app: WSGIApplication | None = None
        self._server = make_server(HOST, 0, self._dispatch, threaded=True)
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="gae-task-target", daemon=True
        )

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"{HOST}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _dispatch(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Any:
        app = self.app
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"No app is serving tasks (the test did not use cloud_tasks).\n"]
        return app(environ, start_response)


class TaskRun(t.NamedTuple):
    """One delivery made by :meth:`TaskQueues.run`."""

    name: str
    function: str | None
    status: int
    retry: int


class TasksStillFailing(GaeError, AssertionError):
    """``run_all()`` gave up on tasks that kept failing.

    An ``AssertionError`` too, so pytest reports it as the failed check it is.
    """


class TaskQueues:
    """The emulator's queues for one test (see the module documentation)."""

    def __init__(self, emulator: TasksEmulator) -> None:
        self.emulator = emulator
        self.client = emulator.client()
        self.location_path = f"projects/{emulator.project}/locations/{emulator.location}"

    def queues(self) -> builtins.list[str]:
        """Full names of the queues that exist."""
        return [q.name for q in self.client.list_queues(parent=self.location_path)]

    def list(self, queue: str | None = None) -> builtins.list[dict[str, t.Any]]:
        """The queued tasks (of ``queue``, else of every queue), as plain dicts: ``name``,
        ``short_name``, ``queue``, ``function``, ``schedule_time``, ``dispatch_count``."""
        names = [self.emulator.queue_path(queue)] if queue else self.queues()
        tasks: list[dict[str, t.Any]] = []
        for name in names:
            tasks.extend(describe(task) for task in self.client.list_tasks(parent=name))
        return tasks

    def run(self, name: str) -> TaskRun:
        """Deliver the task ``name`` now (it stays queued for a retry if it fails)."""
        task = self.client.run_task(name=name)
        status = int(task.last_attempt.response_status.code)
        info = describe(task)
        return TaskRun(info["short_name"], info["function"], status, info["dispatch_count"] - 1)

    def run_all(
        self, *, due_only: bool = False, max_attempts: int = 5, max_tasks: int = 10_000
    ) -> builtins.list[TaskRun]:
        """Deliver queued tasks until none is left, including those they enqueue.

        ``due_only`` skips tasks whose countdown/eta has not come. A task that fails is
        delivered again (its retry count goes up), up to ``max_attempts`` times; then
        :class:`TasksStillFailing` is raised, listing it.
        """
        runs: list[TaskRun] = []
        while len(runs) < max_tasks:
            now = time.time()
            pending = [
                task
                for task in self.list()
                if task["dispatch_count"] < max_attempts
                and not (
                    due_only
                    and task["schedule_time"] is not None
                    and task["schedule_time"].timestamp() > now
                )
            ]
            if not pending:
                break
            for task in pending:
                runs.append(self.run(task["name"]))
        stuck = [task for task in self.list() if task["dispatch_count"] >= max_attempts]
        if stuck:
            raise TasksStillFailing(
                f"{len(stuck)} task(s) still fail after {max_attempts} attempts: "
                + ", ".join(f"{task['short_name']} ({task['function']})" for task in stuck)
            )
        return runs

    def pause(self, queue: str | None = None) -> None:
        """Stop the emulator's dispatcher delivering ``queue`` (else every queue)."""
        for name in [self.emulator.queue_path(queue)] if queue else self.queues():
            self.client.pause_queue(name=name)

    def resume(self, queue: str = "default") -> None:
        """Let the emulator's dispatcher deliver ``queue``'s tasks by itself."""
        name = self.emulator.queue_path(queue)
        if name not in self.queues():
            self.client.create_queue(parent=self.location_path, queue={"name": name})
        self.client.resume_queue(name=name)

    def wait_until_empty(self, timeout: float = 30.0, queue: str | None = None) -> None:
        """Wait for the dispatcher to deliver everything (after :meth:`resume`)."""
        deadline = time.monotonic() + timeout
        while self.list(queue):
            if time.monotonic() > deadline:
                raise AssertionError(f"Tasks still queued after {timeout} s: {self.list(queue)}")
            time.sleep(0.05)

    def reset(self) -> None:
        """Pause and empty every queue.

        Paused first, so the dispatcher takes no new task; emptied twice, because a task
        it was delivering when the queue was purged goes back in if it failed.
        """
        names = self.queues()
        for name in names:
            self.client.pause_queue(name=name)
        for attempt in range(2):
            for name in names:
                self.client.purge_queue(name=name)
            if attempt == 0:
                time.sleep(0.15)  # the dispatcher's 100 ms polling pass ends
