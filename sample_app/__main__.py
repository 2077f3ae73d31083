"""``python -m sample_app``: what `make run` does.

Starts the Datastore, Cloud Storage (fake-gcs-server, which answers the browser's CORS
preflight for direct uploads) and Cloud Tasks emulators, with data kept in ``.emulators/``
of the current directory (``EMULATOR_DATA_DIR`` to change it; tasks are delivered to this
server), then serves the sample app with the debugger and reloader; Ctrl-C stops both. A
start-up problem (an emulator missing, the port taken) is printed as one sentence naming
the fix, and the exit status is 1.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Serve the sample app on HOST:PORT (default 127.0.0.1:8080) with the emulators."""
    from gae.emulators import local_emulators
    from gae.errors import GaeError

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    try:
        # The Cloud Tasks emulator delivers the app's deferred tasks back to this server.
        with local_emulators(
            os.environ.get("EMULATOR_DATA_DIR") or ".emulators", tasks_target=f"{host}:{port}"
        ):
            from sample_app.main import app

            app.run(host=host, port=port, debug=True)
    except GaeError as error:
        print(f"Error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
