"""The base of every exception gae raises."""

from __future__ import annotations


class GaeError(Exception):
    """Base of every exception raised by gae."""
