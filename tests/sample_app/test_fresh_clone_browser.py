"""A new user's first minutes: clone, `make run`, use the noticeboard in a browser.

The repository (this checkout's HEAD) is cloned into a temporary folder and `make run`
runs there with no project variables, only a free ``PORT`` (so that a `make run` of the
checkout on 8080 is left alone): it creates the clone's own ``.venv`` (never this
checkout's; pip's cache is the machine's, as for anyone), starts the emulators and
serves. Headless Chromium then signs up, posts, attaches a small file through the form
and one over the 32 MiB request limit straight to the storage emulator (CORS preflight
included), and downloads both. A second `make run` must not call pip.

The seconds from `make run` to the first answer, both times, are printed (``-s``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.sample_app.test_browser_e2e import sign_up_post_attach_download_and_log_out
from tests.sample_app.test_serve import LEAKED, _free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.e2e,
    pytest.mark.skipif(
        (shutil.which("chromium") is None or shutil.which("chromedriver") is None)
        and not os.environ.get("CI"),
        reason="needs Debian's chromium and chromium-driver: apt-get install chromium "
        "chromium-driver",
    ),
]


def _clone(target: Path) -> Path:
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "checkout", "-q", head], check=True)
    return target


def _user_env(port: int) -> dict[str, str]:
    """A new user's shell: no virtual environment, no emulator, project or secret variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKED)}
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "EMULATOR_DATA_DIR", "MAKEFLAGS", "MFLAGS"):
        env.pop(name, None)
    venvs = {str(ROOT / ".venv" / "bin"), str(Path(sys.executable).parent)}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p not in venvs)
    env["PORT"] = str(port)
    return env


class MakeRun:
    """`make run` in ``folder``, timed to its first answer, stopped with Ctrl-C."""

    def __init__(self, folder: Path, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.started = time.monotonic()
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                ["make", "run"],
                cwd=folder,
                env=_user_env(port),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def first_answer(self, timeout: float = 900) -> float:
        """Seconds from `make run` to the first 200 of ``/healthz``."""
        deadline = self.started + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=10) as response:
                    if response.status == 200:
                        return time.monotonic() - self.started
            except (OSError, urllib.error.URLError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"`make run` did not serve:\n{self.output()[-5000:]}")
            time.sleep(0.25)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def test_fresh_clone_make_run_then_both_uploads_in_a_browser(
    browser: t.Any, tmp_path: Path
) -> None:
    clone = _clone(tmp_path / "clone")
    port = _free_port()

    first = MakeRun(clone, port, tmp_path / "make-run-1.log")
    try:
        first_seconds = first.first_answer()
        assert (clone / ".venv" / "bin" / "python").exists()  # the clone's own venv
        # make run installs what serving needs, not the test and docs tools.
        assert not (clone / ".venv" / "bin" / "pytest").exists()
        assert not (clone / ".venv" / "bin" / "sphinx-build").exists()
        sign_up_post_attach_download_and_log_out(first.url, browser, tmp_path)
    finally:
        first.stop()
    assert "Traceback" not in first.output(), first.output()[-5000:]

    second = MakeRun(clone, port, tmp_path / "make-run-2.log")
    try:
        second_seconds = second.first_answer()
        # The data of the first run is still there (.emulators/ in the clone).
        with urllib.request.urlopen(f"{second.url}/", timeout=30) as response:
            assert "From a real browser" in response.read().decode()
    finally:
        second.stop()
    assert "pip install" not in second.output(), second.output()[-3000:]
    print(
        f"\nfresh clone: make run to first 200 in {first_seconds:.1f} s (install included); "
        f"second make run: {second_seconds:.1f} s"
    )
