"""What every emulator process has: a name, a free loopback port, a log, a health check.

Part of :mod:`gae.emulators`. Subclasses say how to start the process
(:meth:`_Emulator.command`), how to tell it is ready, which environment variables point
clients at it and how to wipe its data.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from gae.settings import default_bucket

from .processes import EmulatorError, Waiting, free_port, http_get, spawn, stop, wait_until_healthy

DEFAULT_PROJECT = "local-project"
#: The bucket the harness creates by default: App Engine's name for the project's default
#: bucket, which is what the app's settings use when GCS_BUCKET is unset.
DEFAULT_BUCKET = default_bucket(DEFAULT_PROJECT)
HOST = "127.0.0.1"


def absolute_dir(folder: str | os.PathLike[str] | None) -> Path | None:
    """``folder`` as an absolute path (``~`` expanded), resolved against the current
    directory now: emulators run in other working directories, and gcp-storage-emulator
    refuses relative data folders."""
    if folder is None:
        return None
    return Path(folder).expanduser().resolve()


class _Emulator:
    """What every emulator process has: a name, a port, a log, a start time."""

    name = "emulator"

    def __init__(self, port: int | None, log_dir: Path | None) -> None:
        self.port = port or free_port(HOST)
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        #: Seconds from spawning the process to a passing health check.
        self.startup_seconds: float | None = None
        self._log_path: Path | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        """Where the emulator's output goes."""
        if self._log_path is None:
            folder = self.log_dir or Path(tempfile.mkdtemp(prefix="gae-emulator-logs-"))
            self._log_path = folder / f"{self.name.replace(' ', '-')}.log"
        return self._log_path

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_healthy(self) -> bool:
        status, body = http_get(f"{self.url}/", timeout=1.0)
        return status == 200 and body.strip().upper() in {b"OK"}

    def spawn(self) -> None:
        """Start the process (from the calling thread) without waiting for it."""
        if self.process is not None and self.process.poll() is None:
            return
        self.prepare()
        self._spawned_at = time.monotonic()
        self.process = spawn(self.command(), self.log_path)

    def prepare(self) -> None:
        """Anything to do before spawning (create folders, check installations)."""

    def waiting(self) -> Waiting:
        """What :func:`wait_until_healthy` needs to wait for this emulator."""
        if self.process is None:
            raise EmulatorError(f"The {self.name} was not started: call start() first.")
        return Waiting(self.name, self.process, self.is_healthy, self.log_path)

    def ready(self, at: float) -> None:
        """Record the time it became healthy and finish set-up."""
        self.startup_seconds = at - self._spawned_at
        self.after_start()

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the spawned process answers its health check."""
        try:
            times = wait_until_healthy([self.waiting()], timeout)
        except EmulatorError:
            self.stop()
            raise
        self.ready(times[self.name])

    def after_start(self) -> None:
        """Set-up that needs the running emulator."""

    def start(self, timeout: float = 60.0) -> None:
        """Start and wait until ready."""
        self.spawn()
        self.wait(timeout)

    def stop(self) -> None:
        """Stop the process if it runs."""
        if self.process is not None:
            stop(self.process)

    @property
    def pid(self) -> int | None:
        """The emulator's process id while it runs."""
        return self.process.pid if self.process is not None else None

    @property
    def env(self) -> dict[str, str]:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError
