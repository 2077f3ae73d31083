"""Error pages in the site's layout, and JSON errors under ``/api/``."""

from __future__ import annotations

import logging
import typing as t

from google.api_core import exceptions as api_errors
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from framework import Flask, jsonify, render_template, request

logger = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood.",
    401: "Log in to do that.",
    403: "You are not allowed to do that.",
    404: "There is nothing here.",
    405: "That method is not allowed here.",
    413: "That is too large.",
    429: "Too many attempts; wait a little.",
    500: "Something went wrong on our side. It has been logged.",
    503: "The service is busy or temporarily unavailable. Try again in a moment.",
}

DATASTORE_DOWN = (
    "The noticeboard cannot reach its database (Datastore) right now, so this page or "
    "action is unavailable. Try again in a moment."
)
#: What google-cloud-ndb raises once Datastore stayed unreachable through its retries.
DATASTORE_UNAVAILABLE = (
    api_errors.RetryError,
    api_errors.ServiceUnavailable,
    api_errors.DeadlineExceeded,
)


def _wants_json() -> bool:
    # The API, and the page script's JSON calls (direct uploads), get JSON errors.
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def handle_http_error(error: HTTPException) -> t.Any:
    code = error.code or 500
    if code == 500:
        message = MESSAGES[500]  # never the exception's text: it may hold internals
    else:
        message = error.description or MESSAGES.get(code, "")
    if _wants_json():
        body = {"error": {"code": code, "name": error.name, "message": message}}
        response = jsonify(body)
    else:
        # A 503 may mean the session itself could not be read: the page must not touch it.
        response = render_template(
            "error.html",
            code=code,
            name=error.name,
            message=message,
            session_unavailable=code == 503,
        )
    headers = {}
    if code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    if code == 503:
        headers["Retry-After"] = "5"
    return response, code, headers


def handle_server_error(error: InternalServerError) -> t.Any:
    return handle_http_error(error)


def handle_datastore_unavailable(error: Exception) -> t.Any:
    """Datastore down or timing out: a 503 with ``Retry-After``, never a 500."""
    logger.error("Datastore unavailable: %s: %s", type(error).__name__, error)
    return handle_http_error(ServiceUnavailable(DATASTORE_DOWN))


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(500, handle_server_error)
    for kind in DATASTORE_UNAVAILABLE:
        app.register_error_handler(kind, handle_datastore_unavailable)
