"""The emulators a local run needs, started and stopped together.

Part of :mod:`gae.emulators`. :class:`Emulators` spawns the Datastore and Cloud Storage
emulators at once, waits until both answer, exports their variables and stops them;
:func:`local_emulators` does that for ``make run``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import typing as t
from collections.abc import Iterator

from .base import DEFAULT_PROJECT, _Emulator, absolute_dir
from .datastore import DatastoreEmulator
from .processes import wait_until_healthy
from .storage import StorageEmulator


class Emulators:
    """Datastore and Cloud Storage emulators started and stopped together.

    Both processes are spawned at once and boot in parallel; :attr:`env` holds the
    variables for clients and child processes, and :meth:`apply_env` exports them.
    ``data_dir`` is made absolute against the current directory; ``bucket`` defaults to
    ``<project>.appspot.com``, the bucket the app's settings default to (``None``: none).
    """

    def __init__(
        self,
        project: str = DEFAULT_PROJECT,
        *,
        bucket: str | None = "",
        data_dir: str | os.PathLike[str] | None = None,
        datastore_mode: t.Literal["datastore", "firestore"] = "datastore",
        storage_backend: t.Literal[
            "gcp-storage-emulator", "fake-gcs-server"
        ] = "gcp-storage-emulator",
        datastore: bool = True,
        storage: bool = True,
        tasks_target: str | None = None,
    ) -> None:
        root = absolute_dir(data_dir)
        self.project = project
        # The Cloud Tasks emulator, delivering to the app at tasks_target ("host:port").
        self.tasks: _Emulator | None = None
        if tasks_target:
            from .tasks import TasksEmulator

            self.tasks = TasksEmulator(project, target=tasks_target)
        self.datastore = (
            DatastoreEmulator(
                project, data_dir=root / "datastore" if root else None, mode=datastore_mode
            )
            if datastore
            else None
        )
        self.storage = (
            StorageEmulator(
                project,
                bucket=bucket,
                data_dir=root / "storage" if root else None,
                backend=storage_backend,
            )
            if storage
            else None
        )
        self._previous_env: dict[str, str | None] = {}

    @property
    def members(self) -> list[_Emulator]:
        """The emulators in this group."""
        return [e for e in (self.datastore, self.storage, self.tasks) if e is not None]

    def start(self, timeout: float = 60.0) -> None:
        """Start every emulator and wait until all are healthy (stop all on failure)."""
        try:
            for emulator in self.members:
                emulator.spawn()
            times = wait_until_healthy([e.waiting() for e in self.members], timeout)
            for emulator in self.members:
                emulator.ready(times[emulator.name])
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every emulator this group started, and restore exported variables."""
        for emulator in self.members:
            emulator.stop()
        self.restore_env()

    def reset(self) -> None:
        """Wipe all data (entities, buckets, objects) and recreate the bucket."""
        for emulator in self.members:
            emulator.reset()

    @property
    def env(self) -> dict[str, str]:
        """The environment variables that point clients at these emulators."""
        env: dict[str, str] = {"GOOGLE_CLOUD_PROJECT": self.project}
        for emulator in self.members:
            env.update(emulator.env)
        if self.storage is not None and self.storage.bucket:
            # The app's bucket is the one created here (not "<project>.appspot.com").
            env["GCS_BUCKET"] = self.storage.bucket
        return env

    def apply_env(self, environ: t.MutableMapping[str, str] | None = None) -> None:
        """Export :attr:`env` into ``environ`` (default ``os.environ``); undone by stop()."""
        target = os.environ if environ is None else environ
        for key, value in self.env.items():
            if environ is None and key not in self._previous_env:
                self._previous_env[key] = os.environ.get(key)
            target[key] = value

    def restore_env(self) -> None:
        """Put back the variables :meth:`apply_env` changed in ``os.environ``."""
        for key, value in self._previous_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._previous_env.clear()

    def __enter__(self) -> Emulators:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def local_emulators(
    data_dir: str | os.PathLike[str] = ".emulators",
    project: str = DEFAULT_PROJECT,
    bucket: str | None = "",
    tasks_target: str | None = None,
    storage_backend: t.Literal["gcp-storage-emulator", "fake-gcs-server"] = "fake-gcs-server",
) -> Iterator[Emulators | None]:
    """Emulators for a local development server, with data kept in ``data_dir``.

    ``data_dir`` is made absolute against the current directory. The bucket (default
    ``<project>.appspot.com``, the app's default) is created and exported as
    ``GCS_BUCKET``. Storage is fake-gcs-server by default: it answers a browser's CORS
    preflight, so uploads straight from the browser to the bucket work.

    Starts both emulators (and the Cloud Tasks emulator, delivering to ``tasks_target``,
    when given), exports their variables for the app (and for the reloader's
    child process, which inherits them), and stops them on exit. Inside werkzeug's
    reloader child, or when ``DATASTORE_EMULATOR_HOST`` already points somewhere, it starts
    nothing and yields ``None``: the emulators of the parent process are used.
    """
    if os.environ.get("WERKZEUG_RUN_MAIN") == "true" or os.environ.get("DATASTORE_EMULATOR_HOST"):
        yield None
        return
    from .tasks import tasks_available

    if not tasks_available():
        tasks_target = None  # the tasks extra is not installed: nothing could enqueue
    folder = absolute_dir(data_dir)
    group = Emulators(
        project,
        bucket=bucket,
        data_dir=folder,
        tasks_target=tasks_target,
        storage_backend=storage_backend,
    )
    group.start()
    group.apply_env()
    parts = ", ".join(f"{e.name} {e.startup_seconds or 0:.2f} s" for e in group.members)
    print(f" * Emulators ready: {parts} (data in {folder})", file=sys.stderr)
    try:
        yield group
    finally:
        group.stop()
