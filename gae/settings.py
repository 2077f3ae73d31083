"""Runtime facts about where the app runs, read once from the environment.

App Engine sets these variables for every instance; locally the emulator harness sets the
emulator ones. Everything the adapters need to know about the environment is here, so it
is read in one place and documented in one place:

===========================  ======================================================
``GAE_ENV``                  ``standard`` on App Engine (standard environment)
``GOOGLE_CLOUD_PROJECT``     project id (also from ``GAE_APPLICATION``, ``s~id``)
``GAE_SERVICE``              service name (``default``)
``GAE_VERSION``              deployed version id
``GAE_INSTANCE``             instance id
``GAE_RUNTIME``              runtime, e.g. ``python312``
``GAE_MEMORY_MB``            memory of the instance class
``GOOGLE_CLOUD_REGION``      region, when set (App Engine does not set it)
``DATASTORE_EMULATOR_HOST``  Datastore emulator ``host:port`` (local only)
``STORAGE_EMULATOR_HOST``    Cloud Storage emulator URL (local only)
``GCS_BUCKET``               bucket for uploads (default ``<project>.appspot.com``)
``REDIS_CACHE_URL``          Redis for ndb's global cache, optional
===========================  ======================================================

Nothing is read at import time: :func:`get_settings` reads on first call and caches.
"""

from __future__ import annotations

import os
import threading
import typing as t


def default_bucket(project: str) -> str:
    """The bucket used when ``GCS_BUCKET`` is unset: App Engine's default bucket of
    ``project``, ``<project>.appspot.com``. The local emulators create the same one."""
    return f"{project}.appspot.com"


class Settings(t.NamedTuple):
    """The environment's facts; see the module documentation for the variables."""

    env: str | None
    project: str | None
    service: str
    version: str | None
    instance: str | None
    runtime: str | None
    memory_mb: int | None
    region: str | None
    datastore_emulator_host: str | None
    storage_emulator_host: str | None
    bucket: str | None
    redis_cache_url: str | None

    @property
    def on_app_engine(self) -> bool:
        """Whether this process runs on App Engine's standard environment."""
        return self.env == "standard"

    @property
    def uses_datastore_emulator(self) -> bool:
        """Whether ndb talks to a local emulator."""
        return bool(self.datastore_emulator_host)

    @classmethod
    def from_environ(cls, environ: t.Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default ``os.environ``)."""
        env = os.environ if environ is None else environ
        project = env.get("GOOGLE_CLOUD_PROJECT") or env.get("DATASTORE_PROJECT_ID")
        application = env.get("GAE_APPLICATION")
        if not project and application:
            # "s~my-project" (or "e~" in the EU): the part after the partition prefix.
            project = application.partition("~")[2] or application
        memory = env.get("GAE_MEMORY_MB")
        bucket = env.get("GCS_BUCKET") or (default_bucket(project) if project else None)
        return cls(
            env=env.get("GAE_ENV"),
            project=project or None,
            service=env.get("GAE_SERVICE", "default"),
            version=env.get("GAE_VERSION"),
            instance=env.get("GAE_INSTANCE"),
            runtime=env.get("GAE_RUNTIME"),
            memory_mb=int(memory) if memory and memory.isdigit() else None,
            region=env.get("GOOGLE_CLOUD_REGION"),
            datastore_emulator_host=env.get("DATASTORE_EMULATOR_HOST") or None,
            storage_emulator_host=env.get("STORAGE_EMULATOR_HOST") or None,
            bucket=bucket,
            redis_cache_url=env.get("REDIS_CACHE_URL") or None,
        )


_lock = threading.Lock()
_settings: Settings | None = None


def get_settings() -> Settings:
    """The process's settings, read from the environment on first call."""
    global _settings
    if _settings is None:
        with _lock:
            if _settings is None:
                _settings = Settings.from_environ()
    return _settings


def reload_settings() -> Settings:
    """Read the environment again (for tests and the emulator harness)."""
    global _settings
    with _lock:
        _settings = Settings.from_environ()
    return _settings
