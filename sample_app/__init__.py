"""The sample app: a noticeboard with accounts, posts and file attachments.

Built the way we tell users to build theirs: an app factory, blueprints, templates,
``gae.wrap`` (per-request ndb context, trusted headers, warmup, production safety),
Datastore sessions and Cloud Storage uploads. ``sample_app.main:app`` is what App Engine
serves and ``make run`` runs.
"""

from __future__ import annotations

import typing as t

from markupsafe import Markup, escape

import gae
from framework import Flask
from gae.secret_manager import load_secret_key

from . import csrf, errors
from .security import load_user, security_headers

#: The key when none is configured: a placeholder gae.wrap recognises. With it, App Engine
#: refuses to start and anywhere else the app answers only requests made on its own
#: machine (`make run`, the tests), so the public key never signs anyone else's session.
DEV_SECRET = "dev"


def linebreaks(text: str) -> Markup:
    """Escape ``text`` and keep its line breaks."""
    return Markup("<br>\n").join(escape(text).split("\n"))


def filesize(size: int | None) -> str:
    """1536 -> '1.5 KB'."""
    value = float(size or 0)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def create_app(config: dict[str, t.Any] | None = None) -> Flask:
    """Build the noticeboard app; ``config`` overrides settings (tests)."""
    app = Flask(__name__)
    settings = gae.get_settings()
    app.config.update(
        # The environment, else (on App Engine) Secret Manager's "secret-key".
        SECRET_KEY=load_secret_key() or DEV_SECRET,
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
        # GCS_BUCKET, else "<project>.appspot.com": the bucket the emulators create.
        UPLOAD_BUCKET=settings.bucket,
    )
    if settings.on_app_engine:
        # Secure there (gae.wrap), host-only and path-wide: the __Host- prefix makes
        # browsers refuse the name from anyone else (a subdomain, plain HTTP).
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"
    app.config.from_prefixed_env("NOTICEBOARD")
    if config:
        app.config.update(config)

    from . import api, attachments, auth, cache, files, jobs, limits, posts, warmup

    app.register_blueprint(auth.bp)
    app.register_blueprint(limits.bp)
    app.register_blueprint(posts.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(attachments.bp)
    app.register_blueprint(jobs.bp)
    app.config.setdefault("GCS_BUCKET", app.config["UPLOAD_BUCKET"])
    files.storage.init_app(app)
    cache.init_app(app)
    errors.register(app)

    app.before_request(load_user)
    app.before_request(csrf.check_csrf)
    app.after_request(csrf.set_cookie)
    app.after_request(security_headers)
    app.add_template_global(csrf.csrf_token)
    app.add_template_filter(linebreaks)
    app.add_template_filter(filesize)

    @app.context_processor
    def upload_limits() -> dict[str, t.Any]:
        return {"upload_limits": files.limits_for_templates()}

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": settings.version or "local"}

    gae.wrap(app, sessions=True, tasks=True)
    warmup.register(app)
    return app
