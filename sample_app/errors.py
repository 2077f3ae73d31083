"""Error pages in the site's layout, and JSON errors under ``/api/``."""

from __future__ import annotations

import logging
import typing as t

from werkzeug.exceptions import HTTPException, InternalServerError

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
        response = render_template("error.html", code=code, name=error.name, message=message)
    headers = {}
    if code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    if code == 503:
        headers["Retry-After"] = "5"
    return response, code, headers


def handle_server_error(error: InternalServerError) -> t.Any:
    return handle_http_error(error)


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(500, handle_server_error)
