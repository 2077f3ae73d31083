"""``python -m bench.tasks``: what a ``defer()`` costs and how long a task takes to run.

Against the real emulators (Cloud Tasks: gcloud-tasks-emulator; Datastore for the large
payload row), with the app served over HTTP in this process, as the pytest plugin does:

* enqueue: ``defer(fn, small args)`` per call, next to the official client's bare
  ``create_task`` with the same body (what gae.tasks adds: function path, JSON, signature,
  queue path), and ``defer`` of a 200 KB payload (stored in Datastore first);
* round trip, dispatcher: from ``defer()`` to the function running in the app, with the
  emulator's own dispatcher delivering (it polls its queues every 100 ms);
* round trip, RunTask: ``cloud_tasks.run(name)`` of a queued task (what ``run_all()`` does
  per task in tests): the emulator's HTTP request, the app's handler, the answer.

Prints a Markdown table (``--json`` for the raw numbers). Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

SECRET = "bench-tasks-secret-key-0123456789"


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
    }


def run(count: int) -> dict[str, dict[str, float]]:
    """Start the emulators, measure, stop them; the rows by name."""
    import gae
    import gae.ndb
    import gae.tasks

    # The deferred functions live in a module of their own: this file runs as __main__.
    from bench import tasks_jobs as me
    from framework import Flask
    from gae.emulators import DatastoreEmulator
    from gae.emulators.tasks import TasksEmulator
    from gae.emulators.tasks_testing import TaskQueues, TaskTarget
    from gae.settings import reload_settings
    from gae.tasks import defer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per task otherwise
    logs = Path(tempfile.mkdtemp(prefix="bench-tasks-"))
    target = TaskTarget()
    target.start()
    datastore = DatastoreEmulator("bench-tasks", log_dir=logs)
    tasks = TasksEmulator("bench-tasks", target=target.address, start_paused=True, log_dir=logs)
    datastore.spawn()
    tasks.spawn()
    try:
        datastore.wait()
        tasks.wait()
        os.environ.update({**datastore.env, **tasks.env})
        reload_settings()
        gae.ndb.set_client_factory(None)
        gae.tasks.set_client_factory(None)
        app = Flask("bench_tasks")
        app.config["SECRET_KEY"] = SECRET
        gae.wrap(app, tasks=True)
        target.app = app
        queues = TaskQueues(tasks)
        queues.reset()
        client = gae.tasks.client.get_client()
        parent = tasks.queue_path("default")
        rows: dict[str, dict[str, float]] = {}
        with app.app_context(), gae.ndb.get_client().context():
            for i in range(20):  # warm: client, channel, queue
                defer(me.touch, f"warm-{i}")
            samples = []
            for i in range(count):
                started = time.perf_counter()
                defer(me.touch, f"enqueue-{i}")
                samples.append(time.perf_counter() - started)
            rows["defer(fn, small args)"] = _stats(samples)
            body = b'{"v":1,"fn":"bench.tasks:touch","args":["x"],"kwargs":{}}.signature'
            samples = []
            for _ in range(count):
                task = {"app_engine_http_request": {"relative_uri": "/x", "body": body}}
                started = time.perf_counter()
                client.create_task(parent=parent, task=task)
                samples.append(time.perf_counter() - started)
            rows["client.create_task (official client, bare)"] = _stats(samples)
            blob = os.urandom(200_000)
            samples = []
            for i in range(max(5, count // 10)):
                started = time.perf_counter()
                defer(me.keep, f"large-{i}", blob)
                samples.append(time.perf_counter() - started)
            rows["defer(fn, 200 KB) -> Datastore"] = _stats(samples)
            queues.reset()
            # RunTask round trips: queue paused, each task delivered on demand.
            names = [defer(me.touch, f"runtask-{i}").name for i in range(count)]
            samples = []
            for name in names:
                started = time.perf_counter()
                result = queues.run(f"{parent}/tasks/{name}")
                samples.append(time.perf_counter() - started)
                assert result.status == 200, result
            rows["round trip: RunTask -> app -> answer"] = _stats(samples)
            # Dispatcher round trips: defer, then wait until the function ran.
            queues.resume("default")
            samples = []
            for i in range(count):
                token = f"dispatch-{i}"
                started = time.perf_counter()
                defer(me.touch, token)
                with me._ran:
                    if not me._ran.wait_for(lambda token=token: token in me.RAN, timeout=30):
                        raise RuntimeError(f"task {token} did not run within 30 s")
                samples.append(me.RAN[token] - started)
            rows["round trip: defer -> dispatcher -> fn runs"] = _stats(samples)
        return rows
    finally:
        target.app = None
        tasks.stop()
        datastore.stop()
        target.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="samples per row")
    parser.add_argument("--quick", action="store_true", help="20 samples per row")
    parser.add_argument("--json", action="store_true", help="print the raw numbers as JSON")
    args = parser.parse_args(argv)
    rows = run(20 if args.quick else args.count)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| what | n | median | p95 | mean |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, row in rows.items():
        print(
            f"| {name} | {int(row['n'])} | {row['median_ms']:.2f} ms | "
            f"{row['p95_ms']:.2f} ms | {row['mean_ms']:.2f} ms |"
        )
    bare = rows["client.create_task (official client, bare)"]["median_ms"]
    ours = rows["defer(fn, small args)"]["median_ms"]
    print(f"\ndefer() / bare create_task (medians): {ours / bare:.2f}x", file=sys.stdout)


if __name__ == "__main__":
    main()
