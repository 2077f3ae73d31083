"""gcloud's own parsers for App Engine files, run in the Google Cloud CLI's bundled Python.

gcloud's ``yaml_parsing`` module is what ``gcloud app deploy`` uses: it knows every key and
value type of ``app.yaml``, ``cron.yaml``, ``index.yaml`` and friends. It is Python code
inside the SDK, with its own dependencies, so it runs in a subprocess on the SDK's Python
(``gae/_gcloud_probe.py``), which also lists the files the deploy would upload.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from gae.errors import GaeError
from gae.sdk import GcloudNotFound, find_sdk_root, sdk_python

PROBE = Path(__file__).with_name("_gcloud_probe.py")


class GcloudUnavailable(GaeError, RuntimeError):
    """The Google Cloud CLI (and so its parser) is not installed."""


@dataclass
class ParsedFile:
    """gcloud's verdict on one file."""

    error: str | None
    line: int | None
    suggestion: str | None
    warnings: list[str] = field(default_factory=list)


@dataclass
class GcloudReport:
    """gcloud's verdicts, and the files ``gcloud app deploy`` would upload."""

    files: dict[str, ParsedFile]
    uploaded: list[str] | None
    uploaded_error: str | None


def find_sdk() -> Path:
    """The Google Cloud CLI's root, or :class:`GcloudUnavailable` saying how to install it."""
    try:
        root = find_sdk_root()
    except GcloudNotFound as error:
        raise GcloudUnavailable(str(error)) from None
    if not (root / "lib" / "googlecloudsdk").is_dir():
        raise GcloudUnavailable(
            f"The Google Cloud CLI at {root} has no lib/googlecloudsdk; reinstall it "
            "(https://cloud.google.com/sdk/docs/install)."
        )
    return root


def parse_with_gcloud(
    project: Path, names: list[str], *, sdk_root: Path | None = None, timeout: float = 120.0
) -> GcloudReport:
    """Parse ``names`` (relative to ``project``) with gcloud's parsers."""
    root = sdk_root or find_sdk()
    python = sdk_python(root)
    if not python.exists():
        python = Path("python3")  # an SDK installed without its bundled Python
    completed = subprocess.run(
        [str(python), "-I", str(PROBE), str(root / "lib"), str(project.resolve()), *names],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    try:
        data: dict[str, t.Any] = json.loads(completed.stdout)
    except ValueError:
        raise GcloudUnavailable(
            f"gcloud's app.yaml parser could not run (exit status {completed.returncode}): "
            f"{completed.stderr.strip()[-800:]}"
        ) from None
    files = {
        name: ParsedFile(
            entry.get("error"),
            entry.get("line"),
            entry.get("suggestion"),
            list(entry.get("warnings") or []),
        )
        for name, entry in data.get("files", {}).items()
    }
    return GcloudReport(files, data.get("uploaded"), data.get("uploaded_error"))
