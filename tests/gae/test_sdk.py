"""Finding the Google Cloud CLI: one lookup for the deploy checks and the emulators."""

from __future__ import annotations

from pathlib import Path

import pytest

import gae
from gae.deploy.gcloud import GcloudUnavailable, find_sdk
from gae.emulators import find_sdk_root as emulators_find_sdk_root
from gae.sdk import GcloudNotFound, find_sdk_root, sdk_python

INSTALL = "apt-get install google-cloud-cli-datastore-emulator"


def test_missing_cloud_cli_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDSDK_ROOT_DIR", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GcloudNotFound, match=INSTALL) as caught:
        find_sdk_root()
    assert "CLOUDSDK_ROOT_DIR" in str(caught.value)
    assert isinstance(caught.value, gae.GaeError)
    # The deploy checks say the same, as their own error.
    with pytest.raises(GcloudUnavailable, match=INSTALL):
        find_sdk()


def test_configured_root_wins_over_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDSDK_ROOT_DIR", str(tmp_path))
    assert find_sdk_root() == tmp_path
    assert sdk_python(tmp_path) == tmp_path / "platform" / "bundledpythonunix" / "bin" / "python3"


def test_root_is_found_from_gcloud_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "google-cloud-sdk" / "bin"
    bin_dir.mkdir(parents=True)
    gcloud = bin_dir / "gcloud"
    gcloud.write_text("#!/bin/sh\n")
    gcloud.chmod(0o755)
    monkeypatch.delenv("CLOUDSDK_ROOT_DIR", raising=False)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert find_sdk_root() == tmp_path / "google-cloud-sdk"


def test_emulators_reexport_the_same_lookup() -> None:
    assert emulators_find_sdk_root is find_sdk_root
