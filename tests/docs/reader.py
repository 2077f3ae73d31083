"""A reader who follows a page literally: types its shell blocks, saves its files, starts
Python for its examples, in a fresh folder with a fresh environment.

Unlike :mod:`tests.docs.run_page` (which runs a page's examples with what the test suite
provides: its interpreter, emulators and ``SECRET_KEY``), the reader has only the
machine (``PATH`` without any virtual environment, ``HOME``, the package index settings)
and what the page tells them to do: ``python3 -m venv``, ``. .venv/bin/activate``,
``export``, ``cd``, ``eval "$(...)"`` carry over from one command to the next, as in one
terminal. What the reader does that a test has to translate, and nothing else:

* ``pip install gae-framework[...]`` installs this checkout, ``-e ROOT[...]`` (the pages
  say so for a clone; the package index here has no release of it);
* ``git clone <repository> FOLDER`` clones this checkout's committed ``HEAD`` (the
  placeholder the pages use until the repository's address is public);
* ``A  # or: B`` runs ``B`` (the pages' alternative without a Makefile that would install
  from the package index);
* a command that serves (``framework ... run``, ``python -m PACKAGE``, ``framework
  emulators start``) runs in the background, as in a second terminal, on a free port
  (``FLASK_RUN_PORT`` / ``PORT``, never 5000 or 8080), and is polled until it answers;
* ``python`` and ``pycon`` blocks in a row are typed into one Python started there.

Hidden ``docs-test: setup`` code is not run: it is the test suite's, not the reader's.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .blocks import Block, Page

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("run_page.py")
SHELL_LANGUAGES = frozenset({"sh", "bash", "console", "shell"})
#: What a reader's terminal has before they read a word: the machine's settings.
MACHINE_VARIABLES = re.compile(
    r"^(PATH|HOME|USER|LOGNAME|LANG|LC_\w+|TERM|TMPDIR|PYENV_\w+|PIP_\w+|CLOUDSDK_\w+"
    r"|JAVA_HOME|CI)$"
)


class ReaderFailed(AssertionError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine_env() -> dict[str, str]:
    """The environment of a new terminal: no virtual environment, no project variables."""
    env = {k: v for k, v in os.environ.items() if MACHINE_VARIABLES.match(k)}
    venvs = {str(Path(sys.executable).parent), str(ROOT / ".venv" / "bin")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and p not in venvs
    )
    return env


def commands(code: str) -> list[str]:
    """The commands of a shell block: comments dropped, continuations joined."""
    found: list[str] = []
    pending = ""
    for raw in code.splitlines():
        line = raw.rstrip()
        if pending:
            line = pending + " " + line.lstrip()
            pending = ""
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        command, alternative = _split_comment(line)
        if alternative:
            command = alternative
        if command.strip():
            found.append(command.strip())
    return found


def _split_comment(line: str) -> tuple[str, str]:
    """(command, alternative): ``cmd  # or: other`` -> ("cmd", "other")."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            comment = line[i + 1 :].strip()
            alternative = comment[3:].strip() if comment.startswith("or:") else ""
            return line[:i], alternative
    return line, ""


def translate_install(command: str) -> str:
    """``pip install "gae-framework[gae]" pytest`` -> ``pip install -e "ROOT[gae]" pytest``.

    Also ``git clone <repository> ...`` -> ``git clone ROOT ...``.
    """
    command = command.replace("git clone <repository>", f"git clone --quiet {_quote(str(ROOT))}")
    if not re.match(r"^(python3? -m )?pip install\b", command):
        return command
    return re.sub(
        r"""(?<![\w./-])(["']?)gae-framework(\[[\w,]+\])?\1""",
        lambda m: f'-e "{ROOT}{m.group(2) or ""}"',
        command,
    )


@dataclass
class Server:
    command: str
    process: subprocess.Popen[bytes]
    log: Path
    url: str | None = None


@dataclass
class Reader:
    """One terminal (plus background ones for servers) following one page."""

    folder: Path
    env: dict[str, str] = field(default_factory=machine_env)
    servers: list[Server] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cwd = self.folder

    # -- the terminal ------------------------------------------------------------------

    def run(self, command: str, where: str) -> None:
        """Type ``command``; a serving command goes to a background terminal."""
        command = translate_install(command)
        self.transcript.append(f"$ {command}    ({where})")
        if self._serves(command):
            self._serve(command, where)
            return
        with tempfile.TemporaryDirectory() as state:
            script = (
                f"set -eo pipefail\ncd {_quote(str(self.cwd))}\n{command}\n"
                f"pwd > {state}/pwd\nenv -0 > {state}/env\n"
            )
            done = subprocess.run(
                ["bash", "-c", script],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            self.transcript.append((done.stdout + done.stderr)[-3000:])
            if done.returncode != 0:
                raise ReaderFailed(
                    f"{where}: `{command}` exited with status {done.returncode}:\n"
                    f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
                )
            self.cwd = Path((Path(state) / "pwd").read_text().strip())
            pairs = (Path(state) / "env").read_bytes().split(b"\0")
            self.env = dict(p.decode().split("=", 1) for p in pairs if b"=" in p)
            for noise in ("PWD", "OLDPWD", "SHLVL", "_"):
                self.env.pop(noise, None)

    @staticmethod
    def _serves(command: str) -> bool:
        return bool(
            re.match(r"^framework( --app \S+)? run\b", command)
            or re.match(r"^python3? -m \w+$", command)
            or re.match(r"^framework emulators start\b", command)
        )

    def _serve(self, command: str, where: str) -> None:
        port = free_port()
        extra = {"FLASK_RUN_PORT": str(port), "PORT": str(port)}
        log = self.folder.parent / f"server-{len(self.servers)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"cd {_quote(str(self.cwd))} && exec {command}"],
                env={**self.env, **extra},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(command, process, log)
        self.servers.append(server)
        if command.startswith("framework emulators start"):
            state = self.cwd / ".emulators" / "state.json"
            self._wait(server, where, state.exists)
        else:
            server.url = f"http://127.0.0.1:{port}/"
            self._wait(server, where, lambda: _answers(t.cast(str, server.url)))

    def _wait(self, server: Server, where: str, ready: t.Callable[[], bool]) -> None:
        deadline = time.monotonic() + 180
        while not ready():
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise ReaderFailed(
                    f"{where}: `{server.command}` did not start; its output:\n"
                    f"{server.log.read_text(errors='replace')[-4000:]}"
                )
            time.sleep(0.2)
        self.transcript.append(f"  (serving: {server.url or server.command})")

    def get(self, url: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return int(response.status), response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def stop(self) -> None:
        for server in reversed(self.servers):
            if server.process.poll() is None:
                os.killpg(server.process.pid, signal.SIGINT)
                try:
                    server.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(server.process.pid, signal.SIGKILL)
                    server.process.wait()

    # -- files and Python --------------------------------------------------------------

    def save(self, block: Block) -> None:
        target = self.cwd / block.argument
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.code, encoding="utf-8")
        self.transcript.append(f"(saved {target.relative_to(self.folder)})")

    def python(self, blocks: list[Block], page: Page) -> None:
        """Start ``python`` in the terminal's folder and type ``blocks`` into it."""
        steps = [
            {
                "where": b.where,
                "line": b.line,
                "language": b.language,
                "action": "fresh" if b.action == "fresh" else None,
                "argument": "",
                "code": b.code,
                "setup": [],
            }
            for b in blocks
        ]
        with tempfile.TemporaryDirectory() as folder:
            spec = Path(folder) / "page.json"
            spec.write_text(
                json.dumps({"page": str(page.path), "path": str(page.path), "steps": steps}),
                encoding="utf-8",
            )
            start = f'cd {_quote(str(self.cwd))} && exec python "$0" "$1"'
            done = subprocess.run(
                ["bash", "-c", start, str(RUNNER), str(spec)],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        self.transcript.append(f">>> ({len(blocks)} block(s) typed into python)")
        if done.returncode != 0:
            raise ReaderFailed(
                f"python examples failed:\n{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
            )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True  # it serves (the caller checks the status)
    except OSError:
        return False


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def follow(page: Page, folder: Path) -> Reader:
    """Follow ``page`` from top to bottom in ``folder``; the caller stops the servers."""
    reader = Reader(folder)
    pending: list[Block] = []

    def flush() -> None:
        if pending:
            reader.python(list(pending), page)
            pending.clear()

    try:
        for block in page.blocks:
            if block.action == "skip":
                continue
            if block.action in {"file", "pytest"}:
                reader.save(block)
            elif block.language in SHELL_LANGUAGES:
                flush()
                for command in commands(block.code):
                    reader.run(command, block.where)
            elif block.language in {"python", "pycon"}:
                pending.append(block)
        flush()
    except BaseException:
        reader.stop()
        raise
    return reader
