"""``python -m tests.load.profile --only pages`` runs, checks every page, and counts the
Datastore calls each page makes (no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gae.emulators import DatastoreEmulator

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def test_profile_pages_counts_the_datastore_calls_of_each_page(
    datastore_emulator: DatastoreEmulator,
) -> None:
    # (The fixture skips, or fails in CI, where the emulators cannot run; the profile
    # starts its own.)
    out = subprocess.run(
        [sys.executable, "-m", "tests.load.profile", "--only", "pages", "--requests", "3"],
        cwd=ROOT,
        # Kept for an hour: the counts cannot depend on how fast the machine is.
        env={**os.environ, "NOTICEBOARD_PUBLIC_CACHE_SECONDS": "3600"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {
        cells[0]: cells[3]
        for line in out.stdout.splitlines()
        if line.startswith("| ") and not line.startswith(("| page", "| ---"))
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    # Public data comes from the instance's memory; a logged-in page reads its session
    # only (the username is in it).
    assert rows == {
        "healthz": "0",
        "home, anonymous": "0",
        "home, logged in": "lookup 1",
        "post, logged in": "lookup 1",
        "post, anonymous": "0",
        "API posts, anonymous": "0",
        "login form, new visitor": "0",
    }
