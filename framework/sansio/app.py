"""``flask.sansio.app``: the application base class is the application class itself."""

from __future__ import annotations

from framework.app import Flask as App

__all__ = ["App"]
