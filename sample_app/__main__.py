"""``python -m sample_app``: serve the sample app locally (what `make run` does)."""

from __future__ import annotations

import os

from sample_app.main import app

if __name__ == "__main__":
    app.run(
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8080")),
        debug=True,
    )
