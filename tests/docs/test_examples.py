"""Every code example of the documentation runs, so the docs cannot drift from the code.

Each page of ``docs/`` (and the README) runs in a fresh interpreter, in an empty working
folder, with its blocks in order (see ``tests/docs/blocks.py`` for the markers). Pages
marked ``page emulators`` get the Datastore and Cloud Storage emulators of the pytest
plugin, wiped first.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tests.extensions import suites

from .blocks import Page, pages

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = ("docs/*.md", "docs/**/*.md", "README.md")
RUNNER = Path(__file__).with_name("run_page.py")
# Variables of the outer test session that must not leak into a page's interpreter.
_ISOLATED = re.compile(
    r"^(DATASTORE_\w+|STORAGE_EMULATOR_HOST|GOOGLE_CLOUD_PROJECT|GAE_\w+|GCS_\w+|SECRET_KEY\w*"
    r"|FLASK_\w+|PYTEST_\w+)$"
)

PAGES = pages(ROOT, PATTERNS)
RUNNABLE = [p for p in PAGES if any(block.runs for block in p.blocks)]


def _page_id(page: Page) -> str:
    return page.path.relative_to(ROOT).as_posix()


def test_pages_are_found() -> None:
    names = {_page_id(p) for p in PAGES}
    assert {"README.md", "docs/quickstart.md", "docs/tutorial.md", "docs/porting.md"} <= names


@pytest.mark.parametrize("page", [p for p in RUNNABLE if not p.emulators], ids=_page_id)
def test_page_examples(page: Page, tmp_path: Path) -> None:
    _run(page, tmp_path)


@pytest.mark.emulator
@pytest.mark.parametrize("page", [p for p in RUNNABLE if p.emulators], ids=_page_id)
def test_page_examples_on_emulators(
    page: Page, tmp_path: Path, datastore_emulator: t.Any, gcs_emulator: t.Any
) -> None:
    datastore_emulator.reset()
    gcs_emulator.reset()
    env = {**datastore_emulator.env, **gcs_emulator.env}
    _run(page, tmp_path, env)


def _run(page: Page, tmp_path: Path, extra_env: dict[str, str] | None = None) -> None:
    steps = [
        {
            "where": block.where,
            "line": block.line,
            "language": block.language,
            "action": block.action,
            "argument": block.argument,
            "code": block.code,
            "setup": block.setup,
        }
        for block in page.blocks
        if block.runs
    ]
    spec = tmp_path / "page.json"
    spec.write_text(
        json.dumps({"page": _page_id(page), "path": str(page.path), "steps": steps}),
        encoding="utf-8",
    )
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not _ISOLATED.match(k)}
    path = [str(ROOT)]
    if page.extensions:
        if not (suites.SITE / ".installed").exists():
            raise suites.NotPrepared(f"run `make extensions` once: {suites.SITE} is missing")
        path.append(str(suites.SITE))
    env.update(
        SECRET_KEY=secrets.token_hex(32),
        PYTHONPATH=os.pathsep.join(path),
        PYTHONDONTWRITEBYTECODE="1",
        **(extra_env or {}),
    )
    completed = subprocess.run(
        [sys.executable, str(RUNNER), str(spec)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    output = f"{completed.stdout}\n{completed.stderr}".strip()
    assert completed.returncode == 0, output


def test_skipped_examples_say_why() -> None:
    for page in PAGES:
        for block in page.blocks:
            if block.action == "skip":
                assert len(block.argument) > 10, f"{block.where}: give a real reason"


def test_python_blocks_all_run_or_are_marked() -> None:
    """No python example is silently ignored: it runs, is written to a file, or is skipped."""
    for page in PAGES:
        for block in page.blocks:
            if block.language in {"python", "py", "python3"}:
                assert block.language == "python", f"{block.where}: write ```python"
                assert block.runs or block.action == "skip", block.where


def test_readme_links_every_part_of_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name == "index.md":
            continue
        assert f"docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"
    assert "docs/reference/" in readme
