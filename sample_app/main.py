"""App Engine entry point: exposes ``app`` for gunicorn (``sample_app.main:app``)."""

from __future__ import annotations

import gae
from sample_app import create_app

app = gae.wrap(create_app())
