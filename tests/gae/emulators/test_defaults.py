"""The harness with the defaults a new user gets: relative folders, the default bucket,
`framework emulators start` / `env` from a fresh folder, and skipped tests made visible."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gae.emulators import Emulators, StorageEmulator
from gae.emulators.base import DEFAULT_PROJECT
from gae.settings import Settings
from gae.storage.client import anonymous_client

FRAMEWORK = str(Path(sys.executable).with_name("framework"))
ROOT = Path(__file__).resolve().parents[3]
#: Variables the test session exports that a new user's shell does not have.
LEAKED = ("GAE_", "GOOGLE_", "DATASTORE_", "STORAGE_", "GCS_", "CLOUD_TASKS_", "CI")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKED)}
    env.update(extra)
    return env


def test_a_relative_data_dir_is_made_absolute_against_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # gcp-storage-emulator refuses a relative folder; the harness resolves it first.
    storage = StorageEmulator(data_dir="relative/storage", backend="gcp-storage-emulator")
    assert storage.data_dir == tmp_path / "relative" / "storage"
    storage.start()
    try:
        client = anonymous_client(storage.project, storage.url)
        client.bucket(storage.bucket).blob("kept.txt").upload_from_string(b"kept")
    finally:
        storage.stop()
    monkeypatch.chdir(ROOT)  # a later chdir does not move the folder
    assert list((tmp_path / "relative" / "storage").rglob("kept.txt"))


def test_emulators_resolve_relative_and_home_folders(tmp_path: Path) -> None:
    group = Emulators(data_dir="~/emulator-data", datastore=False, storage=True)
    assert group.storage is not None and group.storage.data_dir is not None
    assert group.storage.data_dir.is_absolute()
    assert group.storage.data_dir == Path.home() / "emulator-data" / "storage"


def test_the_harness_bucket_is_the_one_the_app_uses_without_configuration() -> None:
    group = Emulators(datastore=False)
    assert group.storage is not None
    # What the app computes from the project alone (no GCS_BUCKET) ...
    app_default = Settings.from_environ({"GOOGLE_CLOUD_PROJECT": DEFAULT_PROJECT}).bucket
    assert group.storage.bucket == app_default == f"{DEFAULT_PROJECT}.appspot.com"
    # ... and what it reads from the exported variables.
    assert Settings.from_environ(group.env).bucket == app_default
    assert StorageEmulator("my-app").bucket == "my-app.appspot.com"
    assert StorageEmulator("my-app", bucket=None).bucket is None


def test_cli_start_from_a_fresh_folder_exports_the_bucket_the_app_uses(tmp_path: Path) -> None:
    # As a reader types it: no options, a fresh folder, a shell with no emulator variables.
    env = _clean_env()
    proc = subprocess.Popen(
        [FRAMEWORK, "emulators", "start", "--no-tasks"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / ".emulators" / "state.json").exists():
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the emulators did not start"
            time.sleep(0.1)
        printed = subprocess.run(
            [FRAMEWORK, "emulators", "env"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        exported = dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines())
        assert exported["GCS_BUCKET"] == f"{DEFAULT_PROJECT}.appspot.com"
        assert exported["GOOGLE_CLOUD_PROJECT"] == DEFAULT_PROJECT
        # An app with no configuration of its own writes to that bucket, which exists.
        settings = Settings.from_environ(exported)
        client = anonymous_client(settings.project, exported["STORAGE_EMULATOR_HOST"])
        assert settings.bucket is not None
        client.bucket(settings.bucket).blob("a.txt").upload_from_string(b"data")
        assert client.bucket(settings.bucket).blob("a.txt").download_as_bytes() == b"data"
        # The default data folder is the fresh folder's .emulators/, absolute.
        assert (tmp_path / ".emulators" / "storage").is_dir()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, stderr = proc.communicate()
    assert b"Traceback" not in stderr


def test_skipped_emulator_tests_are_counted_at_the_end_with_what_to_install(
    tmp_path: Path,
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_needs_datastore.py").write_text(
        textwrap.dedent(
            """
            def test_one(datastore_emulator):
                pass

            def test_two(ndb_context):
                pass

            def test_plain():
                pass
            """
        ),
        encoding="utf-8",
    )
    # No Google Cloud CLI and no Java on PATH: the Datastore emulator cannot start.
    env = _clean_env(PATH=str(Path(sys.executable).parent))
    env.pop("CLOUDSDK_ROOT_DIR", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed, 2 skipped" in result.stdout
    summary = result.stdout[result.stdout.index("gae: emulators missing") :]
    assert "2 tests using the emulators were skipped" in summary
    assert "apt-get install" in summary  # what to install


def test_no_summary_when_nothing_was_skipped_for_an_emulator(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_plain.py").write_text(
        "import pytest\n\n\ndef test_skipped():\n    pytest.skip('not today')\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "1 skipped" in result.stdout
    assert "emulators missing" not in result.stdout
