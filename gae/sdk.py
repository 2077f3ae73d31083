"""Where the Google Cloud CLI is installed: shared by the deploy checks and the emulators.

The Datastore emulator, gcloud's own ``app.yaml`` parser and the App Engine dev server all
ship inside the CLI's installation folder (the "SDK root"). Finding it is the one thing
the deploy tooling and the emulator harness share, so it lives here and neither imports
the other.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import GaeError

INSTALL_HINT = (
    "Install both with 'apt-get install google-cloud-cli-datastore-emulator' (see "
    "https://cloud.google.com/sdk/docs/install for the package source), or set "
    "CLOUDSDK_ROOT_DIR to the CLI's installation folder."
)


class GcloudNotFound(GaeError, RuntimeError):
    """The Google Cloud CLI is not installed (or not where ``CLOUDSDK_ROOT_DIR`` says)."""


def find_sdk_root() -> Path:
    """The Google Cloud CLI's installation folder (``CLOUDSDK_ROOT_DIR`` or from PATH)."""
    configured = os.environ.get("CLOUDSDK_ROOT_DIR")
    if configured:
        return Path(configured)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise GcloudNotFound(
            "The Google Cloud CLI ('gcloud') was not found on PATH; the Datastore emulator "
            f"and gcloud's app.yaml parser come with it. {INSTALL_HINT}"
        )
    # .../google-cloud-sdk/bin/gcloud -> .../google-cloud-sdk
    return Path(os.path.realpath(gcloud)).parent.parent


def sdk_python(sdk_root: Path) -> Path:
    """The CLI's bundled Python interpreter (it runs gcloud's own modules)."""
    return sdk_root / "platform" / "bundledpythonunix" / "bin" / "python3"
