"""``python -m gae.emulators.storage_main``: gcp-storage-emulator in its own process.

Its own command line has no data-folder option; this runs its server with one, and stops
it cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading


def main(argv: list[str] | None = None) -> None:
    """Serve the storage emulator until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--in-memory", action="store_true")
    args = parser.parse_args(argv)

    # Its per-request logging is noise in a local run; errors still show.
    logging.basicConfig(level=logging.WARNING)

    from gcp_storage_emulator.server import create_server

    server = create_server(args.host, args.port, in_memory=args.in_memory, data_dir=args.data_dir)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start()
    try:
        done.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
