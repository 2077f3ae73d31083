"""The base of every exception gae defines, so an app can ``except gae.GaeError``.

Each gae exception also keeps the built-in or werkzeug base it always had (an upload
rejection is still a werkzeug ``HTTPException`` with its 4xx status, a session too large
is still a ``ValueError``), so existing ``except`` clauses keep working.
"""

from __future__ import annotations


class GaeError(Exception):
    """Base class of every exception raised by ``gae`` itself."""


class ConfigurationError(GaeError, RuntimeError):
    """The app or its environment is set up in a way gae cannot work with.

    Raised at start-up or on first use, never for a user's bad input; the message names
    the setting or call to change.
    """
