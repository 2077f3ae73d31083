"""Cold-start probe, run in a fresh interpreter by ``bench.coldstart``: not imported by it.

Usage: ``python bench/coldstart_child.py MODULE REPO_ROOT``. Imports MODULE (``flask`` or
``framework``), builds the hello app, serves one request through the WSGI callable and prints
three times in seconds: ``import build request``.

Before its timer starts it imports nothing beyond what the interpreter has already loaded
(``sys``, ``time``, ``io``), so no harness import is charged to, or pre-paid for, the
framework under test. The app mirrors ``bench.scenarios.build_hello``.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from typing import Any


def main(argv: list[str]) -> int:
    module_name, root = argv[1], argv[2]
    # Run as a script, sys.path[0] is bench/ itself; put the repository root there instead.
    sys.path[0] = root
    perf_counter = time.perf_counter

    t0 = perf_counter()
    fm: Any = __import__(module_name)
    t1 = perf_counter()

    app = fm.Flask("bench_hello")

    def index() -> str:
        return "Hello World!"

    app.add_url_rule("/", view_func=index)

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    statuses: list[str] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        statuses.append(status)
        return lambda data: None

    t2 = perf_counter()
    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    t3 = perf_counter()

    if statuses[:1] != ["200 OK"] or body != b"Hello World!":
        print(
            f"{module_name}: expected 200 'Hello World!', got {statuses} {body[:200]!r}",
            file=sys.stderr,
        )
        return 1
    print(f"{t1 - t0!r} {t2 - t1!r} {t3 - t2!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
