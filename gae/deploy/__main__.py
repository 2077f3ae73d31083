"""``python -m gae.deploy init|check``: the ``framework gae`` commands without the ``framework``
script (a project that vendors framework/ and gae/ has no installed entry points)."""

from __future__ import annotations

from .cli import gae

if __name__ == "__main__":
    gae(prog_name="python -m gae.deploy")
