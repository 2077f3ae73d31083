"""``python -m framework``: the same as the ``framework`` command."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
