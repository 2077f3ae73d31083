"""App Engine entry point: exposes ``app`` for gunicorn (``sample_app.main:app``)."""

from __future__ import annotations

from sample_app import create_app

app = create_app()
