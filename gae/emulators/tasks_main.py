"""The Cloud Tasks emulator process: gcloud-tasks-emulator, served on one loopback port.

Run by :class:`gae.emulators.tasks.TasksEmulator` with the interpreter of the emulator's
own environment (``python -I this_file.py ...``), so it imports nothing from gae: only
the standard library, grpc and the emulator package.

It uses the package's queue state, gRPC servicer and dispatcher, and adds what a faithful
local Cloud Tasks needs and the package's own command line lacks:

* the gRPC server listens on ``--host`` only (the package's binds every interface);
* a task name already used is refused with ALREADY_EXISTS, as Cloud Tasks does (the
  package would queue a duplicate), which is what named tasks de-duplicate on;
* every App Engine task carries ``X-Gae-Tasks-Emulator-Token`` (from the
  ``CLOUD_TASKS_EMULATOR_TOKEN`` variable), by which the local app knows the request came
  from this emulator and not from a browser;
* ``--start-paused`` creates queues paused, for tests that run tasks one by one
  (RunTask) instead of letting the dispatcher deliver them.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import typing as t
from concurrent import futures

TOKEN_HEADER = "X-Gae-Tasks-Emulator-Token"


def build_state(target_host: str, target_port: int, token: str, start_paused: bool) -> t.Any:
    """The emulator's queue state, with name de-duplication and the token header."""
    from gcloud_tasks_emulator.server import QueueState
    from google.api_core.exceptions import AlreadyExists, FailedPrecondition
    from google.cloud.tasks_v2 import Queue

    class State(QueueState):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(target_host, target_port, -1)
            self.names_taken: set[str] = set()
            self.lock = threading.Lock()

        def create_queue(self, parent: t.Any, queue: t.Any) -> t.Any:
            created = super().create_queue(parent, queue)
            if start_paused:
                created.state = Queue.State.PAUSED
            return created

        def create_task(self, queue: str, task: t.Any) -> t.Any:
            if queue not in self.queue_names():
                raise FailedPrecondition(f"Queue {queue} does not exist.")  # type: ignore[no-untyped-call]
            request = task.app_engine_http_request
            if request.relative_uri and token:
                request.headers[TOKEN_HEADER] = token
            with self.lock:
                if task.name:
                    if task.name in self.names_taken:
                        raise AlreadyExists(f"Task {task.name} already exists.")  # type: ignore[no-untyped-call]
                    self.names_taken.add(task.name)
                created = super().create_task(queue, task)
                self.names_taken.add(created.name)
                return created

    return State()


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description="Cloud Tasks emulator (gcloud-tasks-emulator)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target-host", default="127.0.0.1")
    parser.add_argument("--target-port", type=int, required=True)
    parser.add_argument("--queue", action="append", default=[], help="full queue name")
    parser.add_argument("--start-paused", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    import grpc
    from gcloud_tasks_emulator.cloudtasks_pb2_grpc import add_CloudTasksServicer_to_server
    from gcloud_tasks_emulator.server import Greeter, Processor
    from google.cloud.tasks_v2 import Queue

    token = os.environ.get("CLOUD_TASKS_EMULATOR_TOKEN", "")
    state = build_state(args.target_host, args.target_port, token, args.start_paused)
    for name in args.queue:
        state.create_queue(name.rsplit("/queues/", 1)[0], Queue(name=name))
    # Enough workers that a task run through RunTask can itself enqueue tasks.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    add_CloudTasksServicer_to_server(Greeter(state), server)
    server.add_insecure_port(f"{args.host}:{args.port}")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start()
    processor = Processor(state)
    processor.start()
    logging.info(
        "Cloud Tasks emulator on %s:%s, tasks go to http://%s:%s",
        args.host,
        args.port,
        args.target_host,
        args.target_port,
    )
    try:
        done.wait()
    finally:
        processor.join(timeout=1)
        server.stop(0)


if __name__ == "__main__":
    main()
