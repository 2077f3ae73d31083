"""``python -m sample_app``: what `make run` does.

Starts the Datastore, Cloud Storage and Cloud Tasks emulators (data kept in ``.emulators/``;
tasks are delivered to this server), then
serves the sample app with the debugger and reloader; Ctrl-C stops both.
"""

from __future__ import annotations

import os


def main() -> None:
    """Serve the sample app on HOST:PORT (default 127.0.0.1:8080) with the emulators."""
    from gae.emulators import local_emulators

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    # The Cloud Tasks emulator delivers the app's deferred tasks back to this server.
    with local_emulators(
        os.environ.get("EMULATOR_DATA_DIR", ".emulators"), tasks_target=f"{host}:{port}"
    ):
        from sample_app.main import app

        app.run(host=host, port=port, debug=True)


if __name__ == "__main__":
    main()
