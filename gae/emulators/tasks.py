"""The Cloud Tasks emulator for local runs and tests: gcloud-tasks-emulator from PyPI.

Google ships no Cloud Tasks emulator. ``gcloud-tasks-emulator`` is the one on the package
index that speaks the Cloud Tasks gRPC API (the official client talks to it over an
insecure channel) and dispatches App Engine HTTP tasks to a local target with the App
Engine task headers (``X-AppEngine-QueueName``, ``-TaskName``, ``-TaskRetryCount`` ...).
It declares ``protobuf<5``, which the Google clients this project uses cannot share a
virtualenv with, so it runs in an environment of its own, made once per machine with pip
(see :func:`emulator_python`); ``gae/emulators/tasks_main.py`` adds loopback-only binding,
task-name de-duplication and the header by which the app recognises the emulator.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import secrets
import socket
import subprocess
import sys
import time
import typing as t
from pathlib import Path

from .base import DEFAULT_PROJECT, HOST, _Emulator
from .processes import EmulatorError, spawn

#: The emulator and the versions it runs with, pinned (it declares protobuf<5).
EMULATOR_VERSION = "0.6.2"
REQUIREMENTS = (
    f"gcloud-tasks-emulator=={EMULATOR_VERSION}",
    "google-cloud-tasks==2.23.0",
    "google-api-core==2.30.3",
    "googleapis-common-protos==1.75.0",
    "grpc-google-iam-v1==0.14.4",
    "grpcio==1.85.3",
    "grpcio-status==1.62.3",
    "proto-plus==1.28.2",
    "protobuf==4.25.9",
    "PyYAML==6.0.4",
)
#: An interpreter that can import ``gcloud_tasks_emulator`` (skips the managed one).
PYTHON_VAR = "GAE_TASKS_EMULATOR_PYTHON"
#: Where the managed environment goes (default: ``~/.cache/gae-framework``).
HOME_VAR = "GAE_TASKS_EMULATOR_HOME"
DEFAULT_LOCATION = "local"
MAIN = Path(__file__).with_name("tasks_main.py")


def _environment_dir() -> Path:
    configured = os.environ.get(HOME_VAR)
    if configured:
        base = Path(configured)
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        base = Path(cache) / "gae-framework"
    version = f"{sys.version_info.major}{sys.version_info.minor}"
    return base / f"gcloud-tasks-emulator-{EMULATOR_VERSION}-py{version}"


def emulator_python(install: bool = True) -> str:
    """An interpreter that runs the emulator.

    ``GAE_TASKS_EMULATOR_PYTHON`` if set; else this interpreter if it can import the
    emulator; else a virtualenv in the user's cache, created with :data:`REQUIREMENTS`
    on first use (about 40 s, once per machine; ``make install`` does it up front).
    """
    configured = os.environ.get(PYTHON_VAR)
    if configured:
        return configured
    if importlib.util.find_spec("gcloud_tasks_emulator") is not None:
        return sys.executable
    home = _environment_dir()
    python = home / "bin" / "python"
    ready = home / ".ready"
    if ready.exists():
        return str(python)
    if not install:
        raise EmulatorError(f"The Cloud Tasks emulator is not installed in {home}.")
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f"{home.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time per machine
        if not ready.exists():
            _install(home)
            ready.touch()
    return str(python)


def _install(home: Path) -> None:
    log = home.parent / f"{home.name}-install.log"
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(home)],
        [
            str(home / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *REQUIREMENTS,
        ],
    ]
    with open(log, "w", encoding="utf-8") as output:
        for step in steps:
            try:
                subprocess.run(
                    step, stdout=output, stderr=subprocess.STDOUT, check=True, timeout=600
                )
            except (OSError, subprocess.SubprocessError) as error:
                raise EmulatorError(
                    f"Installing the Cloud Tasks emulator (gcloud-tasks-emulator) into {home} "
                    f"failed ({error}); see {log}. It needs pip and the package index; or "
                    f"point {PYTHON_VAR} at a Python that has it: 'pip install "
                    f"gcloud-tasks-emulator=={EMULATOR_VERSION}' in a virtualenv of its own."
                ) from None


def tasks_available() -> bool:
    """Whether the app side can use Cloud Tasks here (the ``tasks`` extra is installed);
    the harnesses start the emulator by default only then."""
    try:
        return importlib.util.find_spec("google.cloud.tasks_v2") is not None
    except ModuleNotFoundError:
        return False


class TasksEmulator(_Emulator):
    """gcloud-tasks-emulator on a free loopback port, delivering tasks to ``target``.

    ``target`` is the ``host:port`` of the app (the local dev server, or the pytest
    plugin's in-process server). ``queues`` are created at start (any other queue is
    created when the app first uses it); ``start_paused`` keeps them from dispatching
    until resumed (tests run tasks with RunTask instead).
    """

    name = "Cloud Tasks emulator"

    def __init__(
        self,
        project: str = DEFAULT_PROJECT,
        *,
        target: str,
        location: str = DEFAULT_LOCATION,
        queues: t.Iterable[str] = ("default",),
        start_paused: bool = False,
        port: int | None = None,
        log_dir: Path | None = None,
    ) -> None:
        super().__init__(port, log_dir)
        host, _, target_port = target.rpartition(":")
        if not host or not target_port.isdigit():
            raise ValueError(f"target must be 'host:port', not {target!r}.")
        self.project = project
        self.location = location
        self.target_host = host
        self.target_port = int(target_port)
        self.queues = list(queues)
        self.start_paused = start_paused
        #: Proves to the local app that a task request came from this emulator.
        self.token = secrets.token_urlsafe(24)

    def queue_path(self, queue: str) -> str:
        """``projects/P/locations/L/queues/Q``."""
        return f"projects/{self.project}/locations/{self.location}/queues/{queue}"

    def command(self) -> list[str]:
        argv = [
            emulator_python(),
            "-I",  # never import from the script's folder (gae/logging.py is not logging)
            str(MAIN),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--target-host",
            self.target_host,
            "--target-port",
            str(self.target_port),
        ]
        for queue in self.queues:
            argv += ["--queue", self.queue_path(queue)]
        if self.start_paused:
            argv.append("--start-paused")
        return argv

    def spawn(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.prepare()
        self._spawned_at = time.monotonic()
        # The token goes through the environment, not the command line (ps shows that).
        env = {**os.environ, "CLOUD_TASKS_EMULATOR_TOKEN": self.token}
        self.process = spawn(self.command(), self.log_path, env)

    def is_healthy(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 0.5):
            return True
        return False

    @property
    def env(self) -> dict[str, str]:
        """What gae.tasks reads to use this emulator."""
        return {
            "CLOUD_TASKS_EMULATOR_HOST": f"{HOST}:{self.port}",
            "CLOUD_TASKS_EMULATOR_TOKEN": self.token,
            "CLOUD_TASKS_LOCATION": self.location,
            "GOOGLE_CLOUD_PROJECT": self.project,
        }

    def client(self) -> t.Any:
        """An official ``CloudTasksClient`` on an insecure channel to this emulator."""
        import grpc
        from google.cloud import tasks_v2
        from google.cloud.tasks_v2.services.cloud_tasks.transports import (
            CloudTasksGrpcTransport,
        )

        channel = grpc.insecure_channel(f"{HOST}:{self.port}")
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))

    def reset(self) -> None:
        """Empty every queue (names already used stay taken, as on Cloud Tasks)."""
        client = self.client()
        for queue in client.list_queues(parent=f"projects/{self.project}"):
            client.purge_queue(name=queue.name)


def main(argv: list[str] | None = None) -> None:
    """``python -m gae.emulators.tasks install``: create the emulator's environment now."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["install"]:
        raise SystemExit("usage: python -m gae.emulators.tasks install")
    print(emulator_python())


if __name__ == "__main__":
    main()
