"""``python -m sample_app``: what `make run` does.

Starts the Datastore and Cloud Storage emulators (data kept in ``.emulators/``), then
serves the sample app with the debugger and reloader; Ctrl-C stops both.
"""

from __future__ import annotations

import os


def main() -> None:
    """Serve the sample app on HOST:PORT (default 127.0.0.1:8080) with the emulators."""
    from gae.emulators import local_emulators

    with local_emulators(os.environ.get("EMULATOR_DATA_DIR", ".emulators")):
        from sample_app.main import app

        app.run(
            host=os.environ.get("HOST", "127.0.0.1"),
            port=int(os.environ.get("PORT", "8080")),
            debug=True,
        )


if __name__ == "__main__":
    main()
