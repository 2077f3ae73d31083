"""Secrets for App Engine apps: from the environment locally, from Secret Manager deployed.

App Engine's standard environment has no way to put a secret into the environment without
writing it into ``app.yaml``, which is committed and uploaded in clear text. So on App
Engine, :func:`load_secret_key` reads the latest version of a Secret Manager secret with
the instance's own service account (metadata-server token, plain HTTPS: no extra client
library at cold start). Locally it reads the environment variable of the same name.

One-time set-up for a project (see docs/app-engine-deploy.md)::

    python -c 'import secrets; print(secrets.token_hex(32), end="")' \\
        | gcloud secrets create secret-key --data-file=-
    gcloud secrets add-iam-policy-binding secret-key \\
        --member=serviceAccount:PROJECT@appspot.gserviceaccount.com \\
        --role=roles/secretmanager.secretAccessor
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request

from .errors import GaeError
from .settings import Settings, get_settings

METADATA_TOKEN_URL = (
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
)
SECRET_MANAGER_URL = "https://secretmanager.googleapis.com/v1"
DEFAULT_SECRET_ID = "secret-key"


class SecretUnavailable(GaeError, RuntimeError):
    """A secret could not be read; the message says what to set up."""


def access_secret(
    project: str,
    secret_id: str,
    version: str = "latest",
    *,
    token_url: str = METADATA_TOKEN_URL,
    api_url: str = SECRET_MANAGER_URL,
    timeout: float = 10.0,
) -> str:
    """The payload of a Secret Manager secret version, read with the instance's identity."""
    try:
        request = urllib.request.Request(token_url, headers={"Metadata-Flavor": "Google"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            token = json.loads(response.read())["access_token"]
        url = f"{api_url}/projects/{project}/secrets/{secret_id}/versions/{version}:access"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())["payload"]["data"]
    except urllib.error.HTTPError as error:
        raise SecretUnavailable(
            f"Secret Manager refused secret {secret_id!r} of project {project!r} "
            f"(HTTP {error.code}). Create it with 'gcloud secrets create {secret_id} "
            "--data-file=-' and grant the App Engine service account "
            "roles/secretmanager.secretAccessor on it."
        ) from None
    except (OSError, ValueError, KeyError) as error:
        raise SecretUnavailable(
            f"Secret {secret_id!r} of project {project!r} could not be read ({error}); "
            "check that the Secret Manager API is enabled for the project."
        ) from None
    return base64.b64decode(payload).decode("utf-8")


def load_secret_key(
    name: str = "SECRET_KEY",
    *,
    settings: Settings | None = None,
    environ: dict[str, str] | None = None,
    token_url: str = METADATA_TOKEN_URL,
    api_url: str = SECRET_MANAGER_URL,
) -> str | None:
    """``SECRET_KEY`` (or ``name``) for the app's config.

    The environment variable wins. Otherwise, on App Engine, the Secret Manager secret
    named by ``{name}_SECRET_ID`` (default ``secret-key``) in the app's project. Elsewhere
    ``None``: fine for local runs and tests, refused on App Engine by ``gae.wrap``.
    """
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value:
        return value
    facts = settings or get_settings()
    if not facts.on_app_engine:
        return None
    if not facts.project:
        raise SecretUnavailable(
            "The App Engine project id is unknown (GOOGLE_CLOUD_PROJECT is not set), so "
            f"{name} cannot be read from Secret Manager."
        )
    secret_id = env.get(f"{name}_SECRET_ID") or DEFAULT_SECRET_ID
    return access_secret(facts.project, secret_id, token_url=token_url, api_url=api_url)
