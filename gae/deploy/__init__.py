"""Offline deploy tooling: ``app.yaml`` rules, pre-deploy checks, ``framework gae init|check``.

Nothing here runs on App Engine: the runtime (``gae.wrap``, storage, sessions) never
imports it. ``framework gae check`` and ``framework gae init`` (:mod:`gae.deploy.cli`) are
the way in; :func:`check_project` and :func:`write_project` are the same from Python.
"""

from __future__ import annotations

from .checks import CheckReport, check_project
from .scaffold import ProjectOptions, ScaffoldError, render_project, write_project

__all__ = [
    "CheckReport",
    "ProjectOptions",
    "ScaffoldError",
    "check_project",
    "render_project",
    "write_project",
]
