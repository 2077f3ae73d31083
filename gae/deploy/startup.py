"""Importing the app the way App Engine starts it, offline: start-up refusals before deploy.

App Engine imports the entrypoint's module with ``GAE_ENV=standard`` and the app.yaml
``env_variables`` set, and nothing else of the developer's environment. An app that
works locally can refuse to start there: ``gae.wrap`` raises
:class:`gae.ConfigurationError` when ``SECRET_KEY`` is unset or a placeholder. This check
imports the app in a subprocess with that environment and no network (proxies point at a
closed loopback port, the metadata server is unreachable), and reports such refusals.

Secret Manager cannot be read offline: in the subprocess,
:func:`gae.secret_manager.access_secret` answers as if the secret existed (a random
value), so the check sees what the app does with the secret it loads, not whether the
secret was created (``gcloud secrets versions access latest --secret=secret-key`` says
that).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .yamlnodes import Finding, pairs, text

#: A closed loopback port: any attempt to reach the network fails at once.
_NOWHERE = "http://127.0.0.1:9"
#: Variables of the developer's environment that App Engine does not set.
_DROPPED_PREFIXES = (
    "GAE_",
    "GOOGLE_",
    "DATASTORE_",
    "STORAGE_EMULATOR",
    "CLOUD_TASKS",
    "FLASK_",
    "SECRET_KEY",
    "GCS_",
)
_PROBE = """
import importlib, json, secrets, sys, traceback
root, target = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
try:
    import gae.secret_manager as _secret_manager
except ImportError:
    pass
else:
    _secret_manager.access_secret = lambda *args, **kwargs: secrets.token_hex(32)
module_name, _, expr = target.partition(":")
try:
    namespace = vars(importlib.import_module(module_name))
    eval(expr or "application", namespace)
except BaseException as error:
    names = [f"{c.__module__}.{c.__qualname__}" for c in type(error).__mro__]
    frames = traceback.extract_tb(error.__traceback__)
    where = next(
        (f"{f.filename}:{f.lineno}" for f in reversed(frames) if f.filename.startswith(root)),
        None,
    )
    print("STARTUP:" + json.dumps({"error": str(error), "types": names, "where": where}))
else:
    print("STARTUP:" + json.dumps(None))
"""


def app_engine_environ(
    env_variables: dict[str, str], project: str = "check-project"
) -> dict[str, str]:
    """The environment App Engine gives the app (with ``env_variables``), offline."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(_DROPPED_PREFIXES) and "PROXY" not in key.upper()
    }
    env.update(
        {
            "GAE_ENV": "standard",
            "GAE_APPLICATION": f"s~{project}",
            "GOOGLE_CLOUD_PROJECT": project,
            "GAE_SERVICE": "default",
            "GAE_VERSION": "check",
            "GAE_INSTANCE": "check-instance",
            "GAE_RUNTIME": "python3",
            "PORT": "8080",
            "PYTHONDONTWRITEBYTECODE": "1",
            # No network: HTTP(S) and gRPC go to a closed port; google-auth skips its
            # metadata-server probe.
            "HTTP_PROXY": _NOWHERE,
            "HTTPS_PROXY": _NOWHERE,
            "http_proxy": _NOWHERE,
            "https_proxy": _NOWHERE,
            "grpc_proxy": _NOWHERE,
            "NO_PROXY": "",
            "no_proxy": "",
            "GCE_METADATA_HOST": "127.0.0.1:9",
            "GCE_METADATA_IP": "127.0.0.1:9",
            "NO_GCE_CHECK": "True",
        }
    )
    env.update(env_variables)
    return env


def startup_findings(
    root: Path, target: str, env_variables: object, timeout: float = 60.0
) -> list[Finding]:
    """Import ``target`` (``module:variable``) from ``root`` as App Engine would; a finding
    for a start-up refusal (error) or an import that could not be checked (warning)."""
    variables = {name: text(value) or "" for name, _, value in pairs(env_variables)}  # type: ignore[arg-type]
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(root.resolve()), target],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=root,
            env=app_engine_environ(variables),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return [_unchecked(target, str(error))]
    result: dict[str, object] | None = None
    for line in done.stdout.splitlines():
        if line.startswith("STARTUP:"):
            result = json.loads(line[len("STARTUP:") :])
            break
    else:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [_unchecked(target, last)]
    if result is None:
        return []
    types = [str(name) for name in _as_list(result.get("types"))]
    message = str(result.get("error"))
    where = result.get("where")
    location = f" (at {Path(str(where)).relative_to(root.resolve())})" if where else ""
    if "gae.errors.GaeError" in types:
        return [
            Finding(
                "app.yaml",
                None,
                "error",
                f"App Engine would refuse to start {target!r}: {types[0].rsplit('.', 1)[-1]}: "
                f"{message.rstrip('.')}{location}.",
                _fix_for(message),
                "startup",
            )
        ]
    if "builtins.ImportError" in types:
        return [_unchecked(target, f"{types[0].rsplit('.', 1)[-1]}: {message}")]
    return [
        Finding(
            "app.yaml",
            None,
            "warning",
            f"Importing {target!r} as App Engine would (GAE_ENV=standard, no network) raised "
            f"{types[0].rsplit('.', 1)[-1]}: {message.rstrip('.')}{location}.",
            "Fix the error, or, if the app reads from the network at start-up (which this "
            "offline check blocks), make that lazy: cold starts pay for it.",
            "startup",
        )
    ]


def _as_list(value: object) -> list[object]:
    """``value`` as a list (JSON from the probe)."""
    return list(value) if isinstance(value, list) else []


def _fix_for(message: str) -> str:
    if "SECRET_KEY" in message:
        return (
            "Load SECRET_KEY from Secret Manager in the app factory: "
            "app.config['SECRET_KEY'] = gae.secret_manager.load_secret_key() (it reads the "
            "secret 'secret-key' on App Engine); never put it in app.yaml."
        )
    return "Do what the message says, then run 'framework gae check' again."


def _unchecked(target: str, why: str) -> Finding:
    return Finding(
        "app.yaml",
        None,
        "warning",
        f"The app's start-up on App Engine could not be checked: importing {target!r} "
        f"failed ({why}).",
        "Run the check in the project's virtualenv (with requirements.txt installed), or "
        "fix the import error.",
        "startup",
    )
