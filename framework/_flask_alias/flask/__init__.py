"""A stand-in ``flask``, first on ``PYTHONPATH`` in processes started by one that called
``framework.install_as_flask()``: importing it installs the alias here too, so ``import
flask`` (and the ``flask`` command, and ``python -m flask``) mean ``framework``.

Where ``framework`` cannot be imported (another interpreter, another environment), the
real Flask is loaded instead, as if this folder were not on the path.
"""

from __future__ import annotations

import importlib
import os
import sys

__framework_alias_stub__ = True

try:
    from framework.alias import install_as_flask
except ImportError:
    _folder = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _folder]
    del sys.modules[__name__]
    sys.modules[__name__] = importlib.import_module(__name__)
else:
    install_as_flask()
