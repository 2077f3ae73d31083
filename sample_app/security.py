"""Login state, CSRF protection, safe redirects and login rate limiting."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import typing as t
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]
from werkzeug.exceptions import BadRequest

from framework import abort, g, redirect, request, session, url_for

from .models import LoginFailure, User, utcnow

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

CSRF_KEY = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
#: Endpoints that answer everyone alike: they do not load the user, so they read no
#: session and keep working while Datastore is unavailable.
ANONYMOUS_ENDPOINTS = frozenset({"static", "health", "_ah_warmup"})


class CSRFError(BadRequest):
    """A state-changing request without the session's CSRF token."""

    description = (
        "The form is missing its security token or the token is wrong. Reload the page "
        "and try again."
    )


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get(CSRF_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return t.cast(str, token)


def check_csrf() -> None:
    """Reject unsafe requests whose token (form field or header) does not match."""
    if request.method not in UNSAFE_METHODS:
        return
    if request.endpoint in {"_ah_warmup", "gae_session_cleanup", "gae_tasks_run"}:
        return
    expected = session.get(CSRF_KEY)
    sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token")
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a 500).
    if not expected or not sent or not hmac.compare_digest(_utf8(expected), _utf8(sent)):
        raise CSRFError()


def _utf8(value: t.Any) -> bytes:
    return str(value).encode("utf-8", "surrogatepass")


def load_user() -> None:
    """Put the logged-in user (or None) on ``g.user`` (not for :data:`ANONYMOUS_ENDPOINTS`)."""
    if request.endpoint in ANONYMOUS_ENDPOINTS:
        return
    user_id = session.get("user_id")
    g.user = User.get_by_id(user_id) if user_id else None


def login_required(view: F) -> F:
    """Send anonymous visitors to the login page (the API answers 401)."""

    @wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        if g.user is None:
            if request.blueprint == "api":
                abort(401)
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
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


def _failure_key(username: str) -> t.Any:
    # A digest: any string the login form receives makes a valid key name (Datastore
    # refuses names over 1,500 bytes and ones like "__x__").
    name = username.strip().lower().encode("utf-8", "surrogatepass")
    return ndb.Key(LoginFailure, hashlib.sha256(name).hexdigest())


def login_blocked(username: str) -> bool:
    """Whether too many recent failures lock this username out for now."""
    record = _failure_key(username).get()
    if record is None or record.window_start is None:
        return False
    if utcnow() - record.window_start > FAILURE_WINDOW:
        return False
    return bool(record.count >= MAX_FAILURES)


def record_failure(username: str) -> None:
    """Count a failed login in a transaction (concurrent failures all count)."""
    key = _failure_key(username)

    def bump() -> None:
        record = key.get() or LoginFailure(key=key, count=0)
        now = utcnow()
        if record.window_start is None or now - record.window_start > FAILURE_WINDOW:
            record.window_start = now
            record.count = 0
        record.count += 1
        record.put()

    ndb.transaction(bump)


def clear_failures(username: str) -> None:
    """Forget failures after a successful login."""
    _failure_key(username).delete()
