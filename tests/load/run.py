"""``make load``: serve the sample app with app.yaml's entrypoint command line against the
emulators and load it; prints requests/s, p50/p99 latency, errors and the worker's memory.

    .venv/bin/python -m tests.load.run --duration 30 [--users 8] [--warmup 3] [--entrypoint CMD]

Exits 1 if any request failed (or none was sent), or the worker's memory grew by 10 % or
more.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .report import describe, run
from .server import Stack

MAX_GROWTH = 0.10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load.run", description=__doc__)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of measured load")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--users", type=int, default=8, help="concurrent virtual users")
    parser.add_argument("--max-requests", type=int, default=200_000, help="request budget")
    parser.add_argument(
        "--entrypoint",
        help="serve with this app.yaml entrypoint line instead of the root app.yaml's, e.g. "
        "'gunicorn --bind :$PORT --worker-class gthread --workers 1 --threads 8 "
        "sample_app.main:app'",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gae-load-") as folder:
        with Stack(Path(folder), command=args.entrypoint) as stack:
            result = run(
                stack,
                duration=args.duration,
                warmup=args.warmup,
                users=args.users,
                max_requests=args.max_requests,
            )
        print(describe(result, stack, args.users))
    summary = result.summary
    failed = summary.errors > 0 or summary.requests == 0 or result.rss_growth >= MAX_GROWTH
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
