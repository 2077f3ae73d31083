"""App Engine adapters for :mod:`framework` apps.

Importing this package must stay cheap: nothing here imports ``google.cloud`` until a
feature that needs it is used.
"""

from __future__ import annotations
