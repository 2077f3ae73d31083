"""``framework emulators start|env``: the local emulators from the command line.

``start`` runs in the foreground until Ctrl-C, printing the ``export`` lines for other
shells and writing them to a state file; ``env`` prints those lines again, so that
``eval "$(framework emulators env)"`` points a second shell at the running emulators.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import threading
import typing as t
from pathlib import Path

import click

from gae.errors import GaeError

from .base import DEFAULT_PROJECT
from .group import Emulators
from .processes import pid_alive
from .tasks import tasks_available

DEFAULT_STATE_DIR = ".emulators"
_STATE_FILE = "state.json"


def export_lines(env: dict[str, str]) -> str:
    """``export KEY=value`` lines, shell-quoted."""
    return "\n".join(f"export {key}={shlex.quote(value)}" for key, value in sorted(env.items()))


def ready_line(emulators: Emulators) -> str:
    """``Emulators ready: Datastore emulator 1.31 s, ...``."""
    parts = [f"{e.name} {e.startup_seconds or 0:.2f} s" for e in emulators.members]
    return "Emulators ready: " + ", ".join(parts)


@click.group("emulators")
def emulators() -> None:
    """Run the Datastore, Cloud Storage and Cloud Tasks emulators locally."""


@emulators.command("start")
@click.option("--project", default=DEFAULT_PROJECT, show_default=True, help="Project id.")
@click.option(
    "--bucket",
    default="",
    show_default="<project>.appspot.com, the app's default GCS_BUCKET",
    help="Bucket to create (exported as GCS_BUCKET).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(DEFAULT_STATE_DIR),
    show_default=True,
    help="Where data persists across restarts.",
)
@click.option("--in-memory", is_flag=True, help="Keep data in memory only.")
@click.option(
    "--datastore-mode",
    type=click.Choice(["datastore", "firestore"]),
    default="datastore",
    show_default=True,
    help="'firestore' runs the Firestore emulator in Datastore mode (in memory).",
)
@click.option(
    "--tasks-target",
    default="127.0.0.1:8080",
    show_default=True,
    help="host:port of the app the Cloud Tasks emulator delivers tasks to.",
)
@click.option(
    "--no-tasks",
    is_flag=True,
    help="Do not start the Cloud Tasks emulator (not started either without the tasks extra).",
)
@click.option(
    "--storage-backend",
    type=click.Choice(["gcp-storage-emulator", "fake-gcs-server"]),
    default="fake-gcs-server",
    show_default=True,
    help="fake-gcs-server answers browsers' CORS preflights, so direct uploads work.",
)
def start_command(
    project: str,
    bucket: str,
    data_dir: Path,
    in_memory: bool,
    datastore_mode: t.Literal["datastore", "firestore"],
    storage_backend: t.Literal["gcp-storage-emulator", "fake-gcs-server"],
    tasks_target: str,
    no_tasks: bool,
) -> None:
    """Start the emulators and keep them running until Ctrl-C."""
    data_dir = data_dir.expanduser().resolve()  # the emulators run in other folders
    persistent = not in_memory and datastore_mode == "datastore"
    try:
        group = Emulators(
            project,
            bucket=bucket,
            data_dir=data_dir if persistent else None,
            datastore_mode=datastore_mode,
            storage_backend=storage_backend,
            tasks_target=None if no_tasks or not tasks_available() else tasks_target,
        )
    except GaeError as error:  # one sentence naming the fix, not a traceback
        raise click.ClickException(str(error)) from None
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    state_file = data_dir / _STATE_FILE
    try:
        try:
            group.start()
        except GaeError as error:
            raise click.ClickException(str(error)) from None
        data_dir.mkdir(parents=True, exist_ok=True)
        state = {"env": group.env, "pids": [e.pid for e in group.members], "owner": os.getpid()}
        state_file.write_text(json.dumps(state, indent=2), encoding="utf-8")
        click.echo(export_lines(group.env))
        click.echo(ready_line(group), err=True)
        click.echo("Press Ctrl-C to stop.", err=True)
        while not stop_requested.wait(0.5):
            for member in group.members:
                if member.process is not None and member.process.poll() is not None:
                    raise click.ClickException(
                        f"The {member.name} stopped unexpectedly; its log is {member.log_path}."
                    )
    finally:
        group.stop()
        state_file.unlink(missing_ok=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Emulators stopped.", err=True)


@emulators.command("env")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(DEFAULT_STATE_DIR),
    show_default=True,
    help="The --data-dir given to 'framework emulators start'.",
)
def env_command(data_dir: Path) -> None:
    """Print 'export' lines for emulators started with 'framework emulators start'."""
    state_file = data_dir / _STATE_FILE
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise click.ClickException(
            f"No running emulators found ({state_file} is missing): start them with "
            "'framework emulators start' in another shell first."
        ) from None
    if not all(pid_alive(int(pid)) for pid in state.get("pids", [])):
        raise click.ClickException(
            f"The emulators recorded in {state_file} are no longer running: start them "
            "again with 'framework emulators start'."
        )
    click.echo(export_lines(state["env"]))
