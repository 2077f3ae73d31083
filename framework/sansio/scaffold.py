"""``flask.sansio.scaffold``: what apps and blueprints share."""

from __future__ import annotations

from framework.helpers import _endpoint_from_view_func, get_root_path
from framework.scaffold import Scaffold, find_package, setupmethod

# _endpoint_from_view_func is Flask's private helper, imported from here by extensions
# (Flask-RESTX), so it is exported like the public names.
__all__ = ["Scaffold", "_endpoint_from_view_func", "find_package", "get_root_path", "setupmethod"]
