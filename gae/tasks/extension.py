"""The tasks extension: ``Tasks(app)`` (or ``gae.wrap(app, tasks=True)``).

It registers the route Cloud Tasks calls (``POST /_ah/queue/deferred`` by default, the
URL App Engine's Python 2 ``deferred`` used), guarded by :func:`gae.headers.task_only`,
and holds the configuration :func:`gae.tasks.defer` reads from the app:

====================  =========================================================
``TASKS_QUEUE``       queue of tasks that name none (default ``default``)
``TASKS_LOCATION``    Cloud Tasks location = the App Engine app's region
                      (default: ``CLOUD_TASKS_LOCATION``, else the metadata server)
``SECRET_KEY``        signs task payloads (``SECRET_KEY_FALLBACKS`` still verify)
====================  =========================================================
"""

from __future__ import annotations

import hashlib
import hmac
import os
import typing as t
import weakref

from framework import current_app, has_app_context, request
from gae.headers import TRUSTED_KEY, task_only
from gae.settings import get_settings

from .errors import TaskError

if t.TYPE_CHECKING:
    from itsdangerous import Signer

    from framework import Flask

#: The route's default URL.
DEFAULT_URL = "/_ah/queue/deferred"
#: The endpoint name of the route.
ENDPOINT = "gae_tasks_run"
#: The header by which the local emulator proves a request is its own (see
#: :mod:`gae.emulators.tasks`), and the variable holding the expected value.
EMULATOR_TOKEN_HEADER = "X-Gae-Tasks-Emulator-Token"
EMULATOR_TOKEN_VAR = "CLOUD_TASKS_EMULATOR_TOKEN"
_SALT = "gae.tasks"

#: Every initialised extension (weakly: apps built by tests come and go).
_registered: weakref.WeakSet[Tasks] = weakref.WeakSet()


class Tasks:
    """The Cloud Tasks extension (``Tasks(app)`` or ``Tasks()`` then ``init_app(app)``)."""

    def __init__(self, app: Flask | None = None, *, url: str = DEFAULT_URL) -> None:
        if not url.startswith("/"):
            raise ValueError(f"The task URL must be a path starting with '/', not {url!r}.")
        self.url = url
        self.app: Flask | None = None
        self._signers: dict[tuple[t.Any, ...], Signer] = {}
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the task route on ``app`` and make it the app :func:`defer` uses."""
        if "gae.tasks" in app.extensions:
            raise RuntimeError(
                "This app already has the tasks extension: call Tasks(app) (or gae.wrap(app, "
                "tasks=True)) once."
            )
        app.config.setdefault("TASKS_QUEUE", "default")
        app.config.setdefault("TASKS_LOCATION", None)
        app.extensions["gae.tasks"] = self
        self.app = app
        from .handler import run_task_request

        def view() -> t.Any:
            trust_local_emulator(request.environ)
            return guarded()

        guarded = task_only(run_task_request)
        # The marker framework gae check looks for (the guard is in place).
        view.gae_task_route = True  # type: ignore[attr-defined]
        app.add_url_rule(self.url, ENDPOINT, view, methods=["POST"])
        _registered.add(self)

    # -- configuration ---------------------------------------------------------------------

    @staticmethod
    def current() -> Tasks:
        """The extension of the current app, else the only one registered in the process."""
        if has_app_context():
            ext = current_app.extensions.get("gae.tasks")
            if isinstance(ext, Tasks):
                return ext
            raise TaskError(
                f"The app {current_app.name!r} has no tasks extension, so a deferred task "
                "would find no route to run it: call gae.wrap(app, tasks=True) or "
                "gae.tasks.Tasks(app) in the app factory."
            )
        apps = {id(ext.app): ext for ext in _registered if ext.app is not None}
        if len(apps) == 1:
            return next(iter(apps.values()))
        raise TaskError(
            "defer() was called outside an app context and "
            + ("no app has" if not apps else "several apps have")
            + " the tasks extension: call it inside 'with app.app_context():'."
        )

    @property
    def config(self) -> t.Mapping[str, t.Any]:
        """The app's config."""
        if self.app is None:
            raise TaskError("Tasks() was not given an app: call init_app(app) first.")
        return self.app.config

    def signer(self) -> Signer:
        """Signs and verifies payloads with ``SECRET_KEY`` (+ ``SECRET_KEY_FALLBACKS``)."""
        config = self.config
        secret = config.get("SECRET_KEY")
        if not secret:
            raise TaskError(
                "SECRET_KEY is not set, and task payloads are signed with it so that nobody "
                "can make the task route call a function of their choosing. Set SECRET_KEY."
            )
        fallbacks = tuple(config.get("SECRET_KEY_FALLBACKS") or ())
        cache_key = (secret, fallbacks)
        signer = self._signers.get(cache_key)
        if signer is None:
            from itsdangerous import Signer

            keys = [*fallbacks, secret]  # the last one signs
            signer = Signer(keys, salt=_SALT, digest_method=hashlib.sha256)
            self._signers = {cache_key: signer}
        return signer


def trust_local_emulator(environ: dict[str, t.Any]) -> None:
    """Trust this request's App Engine headers if the local emulator sent it.

    Off App Engine nobody strips ``X-AppEngine-*`` headers, so they are not believed unless
    the request carries the token the emulator harness gave the emulator and the app
    (``CLOUD_TASKS_EMULATOR_TOKEN``). On App Engine the token means nothing.
    """
    appengine = current_app.extensions.get("appengine")
    settings = appengine.settings if appengine is not None else get_settings()
    if environ.get(TRUSTED_KEY) or settings.on_app_engine:
        return
    expected = os.environ.get(EMULATOR_TOKEN_VAR)
    sent = environ.get("HTTP_" + EMULATOR_TOKEN_HEADER.upper().replace("-", "_"))
    if expected and sent and hmac.compare_digest(sent.encode(), expected.encode()):
        environ[TRUSTED_KEY] = True
        environ.pop("gae.headers", None)  # computed before, untrusted
