"""CSRF protection: every state-changing request carries a token only this browser knows.

* A logged-in user's token lives in the (server-side) session.
* A visitor's token (the login and sign-up forms) lives in a signed cookie, so a visitor
  who only reads pages makes the app store nothing: no session entity per anonymous page
  view. The cookie is ``__Host-csrf`` where cookies are Secure (App Engine): a host-only,
  path-wide name no other site or subdomain can set.
* Both are replaced at every change of privilege (:func:`rotate` at login, sign-up and
  logout), so a token someone obtained before (for instance from a session planted in the
  victim's browser) is worthless after it.

The token travels as the ``csrf_token`` form field or the ``X-CSRF-Token`` header, with
one exception: a ``multipart/form-data`` post (a file upload) carries it in the header or
the query string (``?csrf_token=``), never in its body. Its body is the file, and reading
it streams the file into Cloud Storage: the token must be checked before a byte of the
body is read, so that a post without it stores nothing. (A token in a URL can reach
request logs; it is the session's, replaced at every login and logout, and
``Referrer-Policy: same-origin`` keeps it from other sites.)
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import typing as t

from werkzeug.exceptions import BadRequest

from framework import current_app, g, request, session

if t.TYPE_CHECKING:
    from itsdangerous import Signer

    from framework import Response

SESSION_KEY = "_csrf"
HEADER = "X-CSRF-Token"
FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Endpoints App Engine itself calls (no browser, no token): warmup, and the session
#: and upload cleanup cron URLs, which refuse anything but App Engine Cron, and the task
#: URL, which refuses anything but Cloud Tasks.
EXEMPT_ENDPOINTS = frozenset(
    {"_ah_warmup", "gae_session_cleanup", "gae_storage_cleanup", "gae_tasks_run"}
)
_SALT = "sample_app.csrf"
_UNREAD = object()


class CSRFError(BadRequest):
    """A state-changing request without this browser's CSRF token."""

    description = (
        "The form is missing its security token or the token is wrong. Reload the page "
        "and try again."
    )


def cookie_name() -> str:
    """``__Host-csrf`` where cookies are Secure (App Engine), else ``csrf``."""
    return "__Host-csrf" if current_app.config["SESSION_COOKIE_SECURE"] else "csrf"


def _logged_in() -> bool:
    return bool(session.get("user_id"))


@functools.lru_cache(maxsize=4)
def _signer(secret: str | bytes, fallbacks: tuple[str | bytes, ...]) -> Signer:
    from itsdangerous import Signer

    keys = t.cast("list[str]", [*fallbacks, secret])  # verified with all, signed with the last
    return Signer(keys, salt=_SALT, key_derivation="hmac", digest_method=hashlib.sha256)


def _current_signer() -> Signer:
    config = current_app.config
    return _signer(config["SECRET_KEY"], tuple(config["SECRET_KEY_FALLBACKS"] or ()))


def _visitor_token() -> str | None:
    """This visitor's token: from its signed cookie if that is genuine (and not rotated
    away in this request)."""
    cached = g.get("csrf_visitor", _UNREAD)
    if cached is not _UNREAD:
        return t.cast("str | None", cached)
    token = None
    value = request.cookies.get(cookie_name())
    if value:
        from itsdangerous import BadSignature

        try:
            token = _current_signer().unsign(value).decode("ascii")
        except (BadSignature, UnicodeDecodeError, ValueError):
            token = None
    g.csrf_visitor = token
    return token


def csrf_token() -> str:
    """The token for this page's forms (created on first use)."""
    if _logged_in():
        token = session.get(SESSION_KEY)
        if not token:
            token = secrets.token_urlsafe(32)
            session[SESSION_KEY] = token
        return t.cast(str, token)
    token = _visitor_token()
    if token is None:
        token = secrets.token_urlsafe(32)
        g.csrf_visitor = token
        g.csrf_cookie = "set"  # sent by :func:`set_cookie` with the response
    return token


def check_csrf() -> None:
    """Reject unsafe requests whose token (form field or header) is not this browser's.

    A logged-in user's requests must carry the session's token; the visitor cookie's
    token counts only while nobody is logged in.
    """
    if request.method not in UNSAFE_METHODS or request.endpoint in EXEMPT_ENDPOINTS:
        return
    verify(sent_token())


def sent_token() -> str | None:
    """The token this request sends: header, else query string (multipart posts: their
    body is not read here), else the form field."""
    header = request.headers.get(HEADER)
    if header:
        return header
    if request.mimetype == "multipart/form-data":
        return request.args.get(FIELD)
    return request.form.get(FIELD)


def verify(sent: str | None) -> None:
    """Raise :class:`CSRFError` unless ``sent`` is this browser's token."""
    expected = session.get(SESSION_KEY) if _logged_in() else _visitor_token()
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a 500).
    if not expected or not sent or not hmac.compare_digest(_utf8(expected), _utf8(sent)):
        raise CSRFError()


def _utf8(value: t.Any) -> bytes:
    return str(value).encode("utf-8", "surrogatepass")


def rotate() -> None:
    """Forget both tokens (call at every change of privilege: login, sign-up, logout);
    the next page gets new ones."""
    session.pop(SESSION_KEY, None)
    g.csrf_visitor = None
    g.csrf_cookie = "delete"


def set_cookie(response: Response) -> Response:
    """``after_request``: send a new visitor cookie, or delete a rotated one."""
    action = g.get("csrf_cookie")
    if action is None:
        return response
    name = cookie_name()
    config = current_app.config
    options: dict[str, t.Any] = {
        "path": "/",
        "secure": bool(config["SESSION_COOKIE_SECURE"]),
        "httponly": True,
        "samesite": config["SESSION_COOKIE_SAMESITE"] or "Lax",
    }
    if action == "set" and g.get("csrf_visitor"):
        signed = _current_signer().sign(g.csrf_visitor).decode("ascii")
        response.set_cookie(name, signed, **options)
    elif name in request.cookies:
        response.delete_cookie(name, **options)
    response.vary.add("Cookie")
    return response
