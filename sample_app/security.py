"""Login state, safe redirects and the security headers of every response.

CSRF protection is in :mod:`sample_app.csrf`, login rate limits in :mod:`sample_app.limits`.
"""

from __future__ import annotations

import typing as t
from functools import wraps
from urllib.parse import urlsplit

from framework import abort, current_app, g, redirect, request, url_for
from gae.settings import get_settings

from .current_user import current_user

if t.TYPE_CHECKING:
    from framework import Response

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

#: Endpoints that answer everyone alike: they do not load the user, so they read no
#: session and keep working while Datastore is unavailable.
ANONYMOUS_ENDPOINTS = frozenset({"static", "health", "_ah_warmup"})
#: Where browsers send direct uploads when no emulator or endpoint is configured.
CLOUD_STORAGE = "https://storage.googleapis.com"
#: A year; browsers then use only HTTPS for the site (sent on App Engine, over HTTPS).
HSTS = "max-age=31536000"


def load_user() -> None:
    """Put the logged-in user (or None) on ``g.user`` (not for :data:`ANONYMOUS_ENDPOINTS`):
    see :mod:`sample_app.current_user`."""
    if request.endpoint in ANONYMOUS_ENDPOINTS:
        return
    g.user = current_user()


def require_login() -> None:
    """Stop an anonymous visitor: the login page (the API answers 401)."""
    if g.user is None:
        if request.blueprint == "api":
            abort(401)
        abort(redirect(url_for("auth.login", next=request.full_path.rstrip("?"))))


def login_required(view: F) -> F:
    """Send anonymous visitors to the login page (the API answers 401)."""

    @wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        require_login()
        return view(*args, **kwargs)

    return t.cast(F, wrapper)


def safe_next(target: str | None, fallback: str) -> str:
    """``target`` if it is a path on this site, else ``fallback`` (no open redirects)."""
    if not target:
        return fallback
    if any(c in target for c in "\r\n\\") or not target.startswith("/") or target[:2] == "//":
        return fallback
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. "//\uff0f": a netloc NFKC-normalising to a slash
        return fallback
    if parts.scheme or parts.netloc:
        return fallback
    return target


def upload_origin() -> str:
    """The origin the page script sends direct uploads to (Cloud Storage or an emulator)."""
    endpoint = (
        current_app.config.get("GCS_SIGNED_URL_ENDPOINT")
        or get_settings().storage_emulator_host
        or CLOUD_STORAGE
    )
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy() -> str:
    """Only the site's own scripts, styles and images; fetches to the site and the upload
    origin; no framing, plugins, ``<base>`` or form posts elsewhere."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        f"connect-src 'self' {upload_origin()}; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )


def security_headers(response: Response) -> Response:
    """``after_request``: the headers every response gets (a view may set its own)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors, for older browsers
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure and get_settings().on_app_engine:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response
