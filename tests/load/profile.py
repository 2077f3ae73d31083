"""``python -m tests.load.profile``: where the sample app's CPU goes, per page and at
cold start, against the real Datastore and Cloud Storage emulators.

* **Pages**: the app from ``sample_app.main`` (what App Engine serves) is seeded through
  its own forms (:mod:`tests.load.pages`), then each page is sent in-process many times.
  CPU per page is this process's CPU time (every thread: gRPC's too) over the requests;
  RPCs are counted; and the CPU is split into stages by wrapping the functions that make
  them (ndb context, session load and save, the user lookup, CSRF, templates, the view's
  own Datastore reads): each stage's time excludes the stages nested in it, and
  "the rest" is routing, request and response objects, ``gae.wrap`` and WSGI.
* **Cold start**: ``-X importtime`` of ``import sample_app.main`` grouped by top-level
  package; fresh interpreters' import, first and second ``GET /`` (and the first after
  ``/_ah/warmup``); and launch -> first 200 of ``GET /`` over HTTP on app.yaml's
  entrypoint and on gunicorn (the previous one), median and best of ``--cold-runs``
  fresh launches; with ``--against DIR``, app.yaml's entrypoint in another checkout (the
  code before a change) and in this one instead.

``--only pages`` or ``--only cold`` runs one half.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.http_servers import ROOT, app_yaml_entrypoint, entrypoint_argv
from tests.load.pages import caller, check, cpu_per_request, pages, seeded_app

SECRET = "profile-only-secret-key-0123456789abcdef"
GUNICORN = (
    "gunicorn --bind :$PORT --worker-class gthread --workers 1 --threads 8 sample_app.main:app"
)


class Stages:
    """CPU time per stage, each excluding the stages called inside it."""

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()
        self._stack: list[list[Any]] = []

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            self._stack.append([name, 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                _, nested = self._stack.pop()
                elapsed = time.process_time() - started
                self.totals[name] += elapsed - nested
                if self._stack:
                    self._stack[-1][1] += elapsed

        return timed


@contextlib.contextmanager
def instrumented(app: Any, stages: Stages) -> Iterator[None]:
    """Wrap the functions that make each stage; put everything back afterwards."""
    import jinja2
    from google.cloud.ndb import query as ndb_query  # type: ignore[import-untyped]

    import gae.ndb
    import gae.sessions

    patches: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, attr: Any, name: str) -> None:
        keyed = isinstance(owner, dict | list)
        original = owner[attr] if keyed else getattr(owner, attr)
        patches.append((owner, attr, original))
        wrapped = stages.wrap(name, original)
        if keyed:
            owner[attr] = wrapped
        else:
            setattr(owner, attr, wrapped)

    patch(gae.ndb.RequestContext, "enter", "ndb context: enter + exit")
    patch(gae.ndb.RequestContext, "exit", "ndb context: enter + exit")
    interface = gae.sessions.DatastoreSessionInterface
    patch(interface, "open_session", "session: load (Datastore lookup)")
    patch(interface, "save_session", "session: save")
    hooks = app.before_request_funcs[None]
    for i, hook in enumerate(hooks):
        names = {"load_user": "user lookup (load_user)", "check_csrf": "CSRF check"}
        if hook.__name__ in names:
            patch(hooks, i, names[hook.__name__])
    patch(app.jinja_env.globals, "csrf_token", "CSRF token (template)")
    patch(jinja2.Template, "render", "templates (Jinja render)")
    patch(ndb_query.Query, "fetch_page", "view: Datastore query")
    for endpoint in ("posts.index", "posts.show", "api.list_posts", "auth.login", "health"):
        patch(app.view_functions, endpoint, "view (own code, Key.get)")
    try:
        yield
    finally:
        for owner, attr, original in reversed(patches):
            if isinstance(owner, dict | list):
                owner[attr] = original
            else:
                setattr(owner, attr, original)


def profile_pages(requests: int) -> list[str]:
    from bench.gae_scenarios import counting_rpcs

    app, cookie, post_id = seeded_app()
    lines = [
        f"### Sample app pages, in-process ({requests} requests each, after 30 of warm-up)",
        "",
        "| page | CPU µs | wall µs | Datastore RPCs | where the CPU goes (µs) |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for page in pages(post_id):
        call = caller(app, page, cookie)
        check(page, call)
        for _ in range(30):
            call()
        with counting_rpcs() as counts:
            for _ in range(20):
                call()
        rpcs = ", ".join(f"{name} {n / 20:g}" for name, n in sorted(counts.items())) or "0"
        cpu, wall = cpu_per_request(call, requests)
        stages = Stages()
        with instrumented(app, stages):
            staged_cpu, _ = cpu_per_request(call, requests)
        parts = {name: t / requests * 1e6 for name, t in stages.totals.items() if t > 0}
        parts["the rest (routing, request/response, gae.wrap, WSGI)"] = staged_cpu - sum(
            parts.values()
        )
        split = "; ".join(
            f"{name} {us:,.0f}" for name, us in sorted(parts.items(), key=lambda kv: -kv[1])
        )
        lines.append(f"| {page.name} | {cpu:,.0f} | {wall:,.0f} | {rpcs} | {split} |")
    return lines


def import_breakdown(env: dict[str, str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import sample_app.main"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    by_package: Counter[str] = Counter()
    total = 0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line[12:].split("|"))
        top = name.split(".")[0]
        if name.startswith(("google.cloud.", "google.api_core", "google.auth", "google.protobuf")):
            top = ".".join(name.split(".")[: 3 if name.startswith("google.cloud.") else 2])
        by_package[top] += int(self_us)
        total += int(self_us)
    lines = [
        f"### `import sample_app.main` (-X importtime): {total / 1000:.0f} ms",
        "",
        "| package | ms |",
        "| --- | ---: |",
    ]
    for name, us in by_package.most_common(14):
        lines.append(f"| {name} | {us / 1000:.1f} |")
    return lines


_CHILD = """
import sys, time
t0 = time.perf_counter()
from sample_app.main import app
t1 = time.perf_counter()
client = app.test_client()
if sys.argv[1] == "warmup":
    assert client.get("/_ah/warmup").status_code == 200
t2 = time.perf_counter()
assert client.get("/").status_code == 200
t3 = time.perf_counter()
assert client.get("/").status_code == 200
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""


def first_request(env: dict[str, str], runs: int) -> list[str]:
    """In fresh interpreters: import, first ``GET /`` (ndb client, gRPC channel, first
    query, template compilation), second ``GET /``; and the same after ``/_ah/warmup``
    (what App Engine sends a new instance first); medians in ms."""
    samples: dict[str, list[list[float]]] = {"cold": [], "warmup": []}
    for i in range(runs + 1):  # the first run writes the bytecode caches
        for mode, runs_of_mode in samples.items():
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, mode],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-2000:])
            if i:
                runs_of_mode.append([float(x) * 1000 for x in out.stdout.split()])

    def median(mode: str, phase: int) -> str:
        return f"{statistics.median(run[phase] for run in samples[mode]):,.0f}"

    return [
        f"### Fresh interpreter, in-process (median of {runs})",
        "",
        "| phase | ms |",
        "| --- | ---: |",
        f"| import sample_app.main | {median('cold', 0)} |",
        f"| first GET / | {median('cold', 2)} |",
        f"| second GET / | {median('cold', 3)} |",
        f"| GET /_ah/warmup (another interpreter) | {median('warmup', 1)} |",
        f"| first GET / after the warmup | {median('warmup', 2)} |",
    ]


def first_200(command: str, env: dict[str, str], workdir: Path, cwd: Path = ROOT) -> float:
    """Seconds from launching ``command`` in ``cwd`` to the first 200 of ``GET /``."""
    from gae.emulators.processes import free_port

    port = free_port()
    argv = entrypoint_argv(command, "127.0.0.1", port)
    with open(workdir / "server.log", "ab") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited: see {workdir / 'server.log'}")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with contextlib.suppress(OSError, http.client.HTTPException):
                connection.request("GET", "/")
                if connection.getresponse().status == 200:
                    return time.perf_counter() - started
            connection.close()
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=15)


def cold_starts(env: dict[str, str], runs: int, against: Path | None = None) -> list[str]:
    """Launch -> first 200 of app.yaml's entrypoint and of gunicorn; or, ``against``
    another checkout (the code before a change), of each checkout's own app.yaml
    entrypoint (its server may differ too)."""
    entrypoint = app_yaml_entrypoint()
    sides = {"app.yaml (granian)": (entrypoint, ROOT), "gunicorn gthread": (GUNICORN, ROOT)}
    if against is not None:
        sides = {
            f"app.yaml, {against}": (app_yaml_entrypoint(against / "app.yaml"), against),
            "app.yaml, this checkout": sides["app.yaml (granian)"],
        }
    times: dict[str, list[float]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory(prefix="sample-cold-") as tmp:
        for command, cwd in sides.values():  # one warm-up launch each (bytecode caches)
            first_200(command, env, Path(tmp), cwd)
        for i in range(runs):
            for name in sides if i % 2 == 0 else list(sides)[::-1]:
                command, cwd = sides[name]
                times[name].append(first_200(command, env, Path(tmp), cwd))
    lines = [
        f"### Launch -> first 200 of `GET /` ({runs} launches each, interleaved)",
        "",
        "| server | median ms | best ms |",
        "| --- | ---: | ---: |",
    ]
    for name, values in times.items():
        lines.append(
            f"| {name} | {statistics.median(values) * 1000:,.0f} | {min(values) * 1000:,.0f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load.profile", description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument(
        "--only",
        choices=("pages", "cold"),
        help="only the pages (CPU per page), or only the cold start tables",
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="another checkout (e.g. `git worktree add /tmp/before main`): launch -> first "
        "200 of app.yaml's entrypoint in it and in this one, interleaved",
    )
    args = parser.parse_args(argv)
    from gae.emulators import Emulators

    group = Emulators("profile-project", bucket="profile-bucket")
    group.start()
    try:
        group.apply_env()
        os.environ.update(SECRET_KEY=SECRET, GCS_BUCKET="profile-bucket")
        env = {**os.environ}
        lines = [] if args.only == "cold" else profile_pages(args.requests)
        if args.only != "pages":
            lines += ["", *import_breakdown(env)]
            lines += ["", *first_request(env, args.cold_runs)]
            lines += ["", *cold_starts(env, args.cold_runs, args.against)]
    finally:
        group.stop()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
