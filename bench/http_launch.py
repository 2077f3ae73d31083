"""``python -m bench.http_launch SERVER HOST PORT``: serve ``bench.http_app:app`` on a WSGI
server that has no command line of its own (bjoern, fastwsgi, pyruvate).

Each runs the app in this one process: bjoern and fastwsgi on a single thread (one request
at a time), pyruvate on a pool of ``BENCH_HTTP_THREADS`` (default 8) worker threads.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> None:
    server, host, port = argv[0], argv[1], int(argv[2])
    from bench.http_app import app

    if server == "bjoern":
        import bjoern  # type: ignore[import-not-found, unused-ignore]

        bjoern.run(app, host, port)
    elif server == "fastwsgi":
        import fastwsgi  # type: ignore[import-not-found, unused-ignore]

        fastwsgi.run(app, host=host, port=port, loglevel=0)
    elif server == "pyruvate":
        import pyruvate  # type: ignore[import-not-found, unused-ignore]

        pyruvate.serve(app, f"{host}:{port}", int(os.environ.get("BENCH_HTTP_THREADS", "8")))
    else:
        raise SystemExit(f"Unknown server {server!r}: use bjoern, fastwsgi or pyruvate.")


if __name__ == "__main__":
    main(sys.argv[1:])
