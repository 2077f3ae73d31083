"""Fixtures for the load and fault tests: the sample app on app.yaml's entrypoint server
and the emulators."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gae.emulators import EmulatorError

from .server import Stack


def _started(stack: Stack) -> Stack:
    try:
        stack.start()
    except EmulatorError as error:
        if os.environ.get("CI"):
            pytest.fail(f"Emulators unavailable in CI: {error}", pytrace=False)
        pytest.skip(f"Emulators unavailable: {error}")
    return stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Emulators with data in memory, and the entrypoint's server."""
    running = _started(Stack(tmp_path))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def persistent_stack(tmp_path: Path) -> Iterator[Stack]:
    """The same with emulator data on disk, so it survives an emulator restart."""
    running = _started(Stack(tmp_path, persistent=True))
    try:
        yield running
    finally:
        running.close()
