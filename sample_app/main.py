"""App Engine entry point: exposes ``app`` for the server (``sample_app.main:app``)."""

from __future__ import annotations

import gae
from sample_app import create_app

# Log records of every logger on stdout: one JSON object per line on App Engine, shown
# under the request that wrote it in Cloud Logging; readable lines elsewhere.
gae.setup_logging()
app = gae.wrap(create_app())
