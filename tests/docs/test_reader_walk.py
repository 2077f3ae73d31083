"""The quickstart and the tutorial work as written: a reader with a fresh folder, a fresh
virtual environment and a terminal holding only what the page says to set follows each
page command by command (see :mod:`tests.docs.reader` for the few translations).

A reader's ``pip install`` uses the machine's package index and pip cache, as anyone's
does; the virtual environment is the page's own, never the project's ``.venv``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .blocks import parse_page
from .reader import ROOT, commands, follow, machine_env, translate_install

pytestmark = pytest.mark.slow


def _home(tmp_path: Path) -> Path:
    folder = tmp_path / "reader"
    folder.mkdir()
    return folder


def test_quickstart_as_a_reader_types_it(tmp_path: Path) -> None:
    page = parse_page(ROOT / "docs" / "quickstart.md", ROOT)
    reader = follow(page, _home(tmp_path))
    try:
        # The page told the reader to export SECRET_KEY; nothing else did.
        assert len(reader.env.get("SECRET_KEY", "")) >= 32, "\n".join(reader.transcript)
        served = [s for s in reader.servers if s.url]
        assert [s.command for s in served] == ["framework --app hello run"]
        assert reader.get(str(served[0].url)) == (200, "<p>Hello, World!</p>")
        # The page's own layout: the clone, and the reader's project beside it.
        assert (reader.folder / "gae-framework" / "pyproject.toml").exists()
        assert (reader.folder / "hello" / ".venv" / "bin" / "framework").exists()
    finally:
        reader.stop()


@pytest.mark.emulator
def test_tutorial_as_a_reader_types_it(tmp_path: Path) -> None:
    page = parse_page(ROOT / "docs" / "tutorial.md", ROOT)
    reader = follow(page, _home(tmp_path))
    try:
        transcript = "\n".join(reader.transcript)
        # The emulators the page started in a second terminal, then its own server.
        assert [s.command for s in reader.servers] == [
            "framework emulators start",
            "python -m guestbook",
        ], transcript
        assert reader.env["DATASTORE_EMULATOR_HOST"].startswith("127.0.0.1:")
        status, body = reader.get(str(reader.servers[1].url))
        assert status == 200 and "Guestbook" in body, body[:2000]
        # The page's tests ran (and passed) with the reader's pytest.
        assert " passed" in transcript and " failed" not in transcript, transcript
        assert "skipped" not in transcript, transcript  # the emulators really ran
    finally:
        reader.stop()


def test_commands_are_read_as_typed() -> None:
    code = (
        "python3 -m venv .venv   # a comment\n"
        "make run        # or: python -m guestbook\n"
        "gcloud secrets add-iam-policy-binding k \\\n    --role=r\n"
        "echo '# not a comment'\n"
    )
    assert commands(code) == [
        "python3 -m venv .venv",
        "python -m guestbook",
        "gcloud secrets add-iam-policy-binding k --role=r",
        "echo '# not a comment'",
    ]
    assert translate_install('pip install "gae-framework[gae,emulators]" pytest') == (
        f'pip install -e "{ROOT}[gae,emulators]" pytest'
    )
    assert translate_install("pip install gae-framework") == f'pip install -e "{ROOT}"'


def test_the_reader_starts_without_the_projects_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATASTORE_EMULATOR_HOST", "127.0.0.1:1")
    monkeypatch.setenv("SECRET_KEY", "from-the-test-session")
    env = machine_env()
    assert "DATASTORE_EMULATOR_HOST" not in env and "SECRET_KEY" not in env
    assert str(ROOT / ".venv" / "bin") not in env["PATH"].split(":")
