"""Cold-start probe of the App Engine adapter, run in a fresh interpreter by ``bench.gae_run``.

Usage: ``python bench/coldstart_gae_child.py REPO_ROOT``. Imports ``framework`` and builds
the hello app, then times ``import gae`` and ``gae.wrap(app)``, serves one request through
the wrapped app and prints two lines: the times in seconds (``import-framework build
import-gae wrap request``) and the ``google`` modules loaded by then (empty if none).

Before its timer starts it imports nothing beyond what the interpreter has already loaded
(``sys``, ``time``, ``io``), as ``bench/coldstart_child.py`` does.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from typing import Any


def main(argv: list[str]) -> int:
    # Run as a script, sys.path[0] is bench/ itself; put the repository root there instead.
    sys.path[0] = argv[1]
    perf_counter = time.perf_counter

    t0 = perf_counter()
    fm: Any = __import__("framework")
    t1 = perf_counter()

    app = fm.Flask("bench_hello")

    def index() -> str:
        return "Hello World!"

    app.add_url_rule("/", view_func=index)
    t2 = perf_counter()

    import gae

    t3 = perf_counter()
    gae.wrap(app)
    t4 = perf_counter()

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

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    t5 = perf_counter()

    if statuses[:1] != ["200 OK"] or body != b"Hello World!":
        print(f"expected 200 'Hello World!', got {statuses} {body[:200]!r}", file=sys.stderr)
        return 1
    google = sorted(name for name in sys.modules if name.split(".", 1)[0] == "google")
    print(f"{t1 - t0!r} {t2 - t1!r} {t3 - t2!r} {t4 - t3!r} {t5 - t4!r}")
    print(" ".join(google))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
