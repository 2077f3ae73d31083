"""Fixtures for every framework test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _cli_environment_restored() -> Iterator[None]:
    """Undo what an in-process command line leaves in ``os.environ``.

    Invoking the CLI sets ``FLASK_RUN_FROM_CLI=true`` in this process, as Flask's does, and
    with it set ``app.run()`` does nothing: a later test (or a child process that inherits
    the environment, such as a ``make run`` in the distribution tests) would silently
    not serve. Tests that invoke the CLI without a ``Workspace`` get it undone here.
    """
    before = {name: value for name, value in os.environ.items() if name.startswith("FLASK_")}
    yield
    for name in [name for name in os.environ if name.startswith("FLASK_")]:
        if name not in before:
            del os.environ[name]
    os.environ.update(before)
