"""Whether Google client libraries could find credentials here, judged without network.

Off App Engine, with no emulator and no credentials, every Datastore call fails with
google.auth's ``DefaultCredentialsError`` (after probing a metadata server that is not
there): a wrapped app would answer 500 on every URL. :func:`credentials_problem` finds
that at start-up from what google.auth itself looks at first, reading only environment
variables and two local files, so ``gae.wrap`` can refuse with the fix instead.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

if t.TYPE_CHECKING:
    from .settings import Settings

#: Variables set where a metadata server answers with the service account's token
#: (Cloud Run, Cloud Functions, GKE, an explicit metadata host).
_METADATA_VARIABLES = (
    "K_SERVICE",
    "FUNCTION_TARGET",
    "KUBERNETES_SERVICE_HOST",
    "GCE_METADATA_HOST",
)

NO_CREDENTIALS = (
    "No Datastore to talk to: this app uses Datastore (ndb models or Datastore sessions), "
    "but it does not run on App Engine, DATASTORE_EMULATOR_HOST is not set and no Google "
    "credentials were found; start the emulators with 'framework emulators start' and "
    "run 'eval \"$(framework emulators env)\"' in this shell before starting the app (or "
    "serve it through a script that starts them, as 'python -m sample_app' does), or, to "
    "use a real project, run 'gcloud auth application-default login' or set "
    "GOOGLE_APPLICATION_CREDENTIALS."
)


def adc_file(environ: t.Mapping[str, str]) -> Path:
    """Where ``gcloud auth application-default login`` writes its credentials."""
    config = environ.get("CLOUDSDK_CONFIG")
    if config:
        folder = Path(config)
    elif os.name == "nt":
        folder = Path(environ.get("APPDATA", "")) / "gcloud"
    else:
        folder = Path(environ.get("HOME") or Path.home()) / ".config" / "gcloud"
    return folder / "application_default_credentials.json"


def _on_google_compute(product_file: Path) -> bool:
    # Compute Engine (and what runs on it) names itself here; no metadata request needed.
    try:
        return product_file.read_text(encoding="ascii", errors="replace").startswith("Google")
    except OSError:
        return False


def credentials_problem(
    settings: Settings,
    environ: t.Mapping[str, str] | None = None,
    *,
    product_file: Path = Path("/sys/class/dmi/id/product_name"),
) -> str | None:
    """Why Datastore cannot be reached with the default client, or ``None`` if it may be.

    ``None`` on App Engine, with an emulator, with ``GOOGLE_APPLICATION_CREDENTIALS``,
    with gcloud's application-default credentials file, or where a metadata server is
    known to exist; anything unusual errs towards ``None`` (the old behaviour).
    """
    env = os.environ if environ is None else environ
    if settings.on_app_engine or settings.uses_datastore_emulator:
        return None
    if env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return None
    if any(env.get(name) for name in _METADATA_VARIABLES):
        return None
    if adc_file(env).is_file() or _on_google_compute(product_file):
        return None
    return NO_CREDENTIALS
