"""The Cloud Datastore emulator (or Firestore in Datastore mode), from the Google Cloud CLI.

Part of :mod:`gae.emulators`. Both are Java programs inside the CLI's installation
folder, found through :func:`gae.sdk.find_sdk_root`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import typing as t
from pathlib import Path

from gae.sdk import GcloudNotFound, find_sdk_root

from .base import DEFAULT_PROJECT, HOST, _Emulator, absolute_dir
from .processes import EmulatorError, http_request

_INSTALL_EMULATOR = (
    "Install it with 'apt-get install google-cloud-cli-datastore-emulator' (or "
    "'gcloud components install cloud-datastore-emulator')."
)
_INSTALL_FIRESTORE = (
    "Install it with 'apt-get install google-cloud-cli-firestore-emulator' (or "
    "'gcloud components install cloud-firestore-emulator')."
)
logger = logging.getLogger("gae.emulators")

#: What the Datastore emulator's log shows when saving its data at shutdown failed: a
#: stack trace through its stop (a write arrived meanwhile), or its own message. (It
#: logs nothing when nothing changed since it started.)
_NOT_SAVED = (b"LocalDatastoreFileStub.stopInternal", b"Failed to persist datastore")

_INSTALL_JAVA = (
    "Install a Java runtime (JDK 11 or newer), e.g. 'apt-get install default-jdk-headless'."
)


def find_java() -> str:
    """The ``java`` executable (``JAVA`` environment variable or PATH)."""
    java = os.environ.get("JAVA") or shutil.which("java")
    if java is None:
        raise EmulatorError(
            f"Java was not found, and the Datastore emulator runs on it. {_INSTALL_JAVA}"
        )
    return java


class DatastoreEmulator(_Emulator):
    """The Cloud Datastore emulator from the Google Cloud CLI, or Firestore in Datastore mode.

    ``mode="datastore"`` (default) runs the Datastore emulator with strong consistency;
    ``mode="firestore"`` runs the Firestore emulator in Datastore mode, which behaves like
    production Datastore today (pessimistic locking). Without ``data_dir`` data stays in
    memory; with it, data is kept in that folder across restarts (Datastore mode only).
    """

    def __init__(
        self,
        project: str = DEFAULT_PROJECT,
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        mode: t.Literal["datastore", "firestore"] = "datastore",
        log_dir: Path | None = None,
    ) -> None:
        if mode not in {"datastore", "firestore"}:
            raise ValueError(f"mode must be 'datastore' or 'firestore', not {mode!r}.")
        # Absolute: the emulator runs in its own working directory, and a relative folder
        # given by a user (".emulators") means the one they typed it in.
        folder = absolute_dir(data_dir)
        super().__init__(port, log_dir or folder)
        self.project = project
        self.mode = mode
        self.data_dir = folder
        self.name = (
            "Datastore emulator" if mode == "datastore" else "Firestore emulator (Datastore mode)"
        )
        #: After :meth:`stop` of an emulator that keeps data on disk: whether it saved it.
        self.saved: bool | None = None
        self._log_offset = 0

    def _jar(self) -> Path:
        try:
            root = find_sdk_root()
        except GcloudNotFound as error:
            raise EmulatorError(str(error)) from None
        if self.mode == "datastore":
            jar = root / "platform" / "cloud-datastore-emulator" / "CloudDatastore.jar"
            hint = _INSTALL_EMULATOR
        else:
            jar = root / "platform" / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
            hint = _INSTALL_FIRESTORE
        if not jar.exists():
            raise EmulatorError(
                f"The {self.name} is not installed in {root} ({jar} is missing). {hint}"
            )
        return jar

    def command(self) -> list[str]:
        jar = str(self._jar())  # the CLI first: without it there is no emulator to run
        java = find_java()
        if self.mode == "firestore":
            return [
                java,
                "-Duser.language=en",
                "-cp",
                jar,
                "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--database-mode",
                "datastore-mode",
                "--project_id",
                self.project,
            ]
        main = [java, "-cp", jar, "com.google.cloud.datastore.emulator.CloudDatastore"]
        args = [f"--host={HOST}", f"--port={self.port}"]
        if self.data_dir is None:
            return [*main, "start", *args, "--testing"]
        return [
            *main,
            "start",
            *args,
            "--consistency=1.0",
            "--store_on_disk=true",
            str(self.data_dir),
        ]

    def prepare(self) -> None:
        if self.mode == "firestore" and self.data_dir is not None:
            raise EmulatorError(
                "The Firestore emulator keeps data in memory only: drop data_dir, or use "
                "mode='datastore' for data that survives restarts."
            )
        if self.data_dir is not None and not (self.data_dir / "WEB-INF").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    find_java(),
                    "-cp",
                    str(self._jar()),
                    "com.google.cloud.datastore.emulator.CloudDatastore",
                    "create",
                    str(self.data_dir),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )

    def spawn(self) -> None:
        running = self.process is not None and self.process.poll() is None
        if not running:
            # Where this run's lines start: the log is appended to across restarts.
            self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            self.saved = None
        super().spawn()

    def stop(self) -> None:
        """Stop the emulator; one that keeps data on disk saves it as it exits.

        The emulator writes everything to disk only at shutdown, and that write fails
        (``ConcurrentModificationException`` in its log) when a write arrives while it
        shuts down: then everything written since it started is lost. That is logged as
        a warning and :attr:`saved` is ``False``; stop the app before the emulators.
        """
        was_running = self.process is not None and self.process.poll() is None
        super().stop()
        if not (was_running and self.data_dir is not None and self.mode == "datastore"):
            return
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            lines = log.read()
        killed = self.process is not None and self.process.returncode == -signal.SIGKILL
        self.saved = not killed and not any(marker in lines for marker in _NOT_SAVED)
        if not self.saved:
            logger.warning(
                "The %s did not save its data to %s as it stopped (it fails when a write "
                "arrives while it shuts down): what was written since it started is lost. "
                "Stop the app before the emulators. Its log: %s",
                self.name,
                self.data_dir,
                self.log_path,
            )

    @property
    def env(self) -> dict[str, str]:
        """What ndb and google-cloud-datastore read to use this emulator."""
        return {
            "DATASTORE_EMULATOR_HOST": f"{HOST}:{self.port}",
            "DATASTORE_EMULATOR_HOST_PATH": f"{HOST}:{self.port}/datastore",
            "DATASTORE_HOST": self.url,
            "DATASTORE_PROJECT_ID": self.project,
            "DATASTORE_DATASET": self.project,
            "GOOGLE_CLOUD_PROJECT": self.project,
        }

    def reset(self) -> None:
        """Delete all entities (``POST /reset``)."""
        status, body = http_request("POST", f"{self.url}/reset")
        if status != 200:
            raise EmulatorError(f"Resetting the {self.name} failed: HTTP {status} {body[:200]!r}.")
