"""The app logger: level in debug mode, default handler, and where its output goes."""

from __future__ import annotations

import io
import logging
import sys
import typing as t
import uuid
from dataclasses import dataclass

import flask.logging
import pytest

from framework import Flask
from framework.logging import create_logger, default_handler, has_level_handler, wsgi_errors_stream


@dataclass
class _AppStandIn:
    name: str
    debug: bool = False


def _create(name: str, debug: bool = False) -> logging.Logger:
    # create_logger only reads ``name`` and ``debug``; no need for a whole app here.
    return create_logger(t.cast("Flask", _AppStandIn(name, debug)))


def _isolated_logger_name() -> str:
    # pytest attaches its capture handler to the root logger and to every non-propagating
    # logger that exists when a test phase starts; a logger first created inside the test
    # body with propagate=False sees no handler at all.
    name = f"fw_logging_test_{uuid.uuid4().hex}"
    logging.getLogger(name).propagate = False
    return name


def test_create_logger_returns_named_logger_with_default_handler() -> None:
    logger_name = _isolated_logger_name()
    logger = _create(logger_name)
    assert logger is logging.getLogger(logger_name)
    assert logger.handlers == [default_handler]
    assert logger.level == logging.NOTSET


def test_debug_sets_level_only_when_unset() -> None:
    logger_name = _isolated_logger_name()
    assert _create(logger_name, debug=True).level == logging.DEBUG
    logger = logging.getLogger(logger_name)
    logger.setLevel(logging.WARNING)
    assert _create(logger_name, debug=True).level == logging.WARNING


def test_existing_handler_means_no_default_handler() -> None:
    logger_name = _isolated_logger_name()
    logger = logging.getLogger(logger_name)
    mine = logging.StreamHandler(io.StringIO())
    logger.addHandler(mine)
    assert _create(logger_name).handlers == [mine]


def test_handler_on_parent_counts_unless_level_too_high() -> None:
    logger_name = _isolated_logger_name()
    parent = logging.getLogger(logger_name)
    child = logging.getLogger(f"{logger_name}.child")
    child.setLevel(logging.INFO)
    handler = logging.StreamHandler(io.StringIO())
    handler.setLevel(logging.ERROR)
    parent.addHandler(handler)
    assert has_level_handler(child) is False
    assert has_level_handler(child) is flask.logging.has_level_handler(child)
    handler.setLevel(logging.INFO)
    assert has_level_handler(child) is True
    child.propagate = False
    assert has_level_handler(child) is False
    assert has_level_handler(child) is flask.logging.has_level_handler(child)
    child.propagate = True


def test_default_handler_format_matches_flask() -> None:
    record = logging.LogRecord("app", logging.WARNING, "/x/views.py", 1, "hi %s", ("you",), None)
    assert default_handler.formatter is not None
    assert flask.logging.default_handler.formatter is not None
    ours = default_handler.formatter.format(record)
    assert ours == flask.logging.default_handler.formatter.format(record)
    assert ours.endswith("] WARNING in views: hi you")


def test_errors_stream_is_stderr_outside_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stderr", fake)
    wsgi_errors_stream.write("outside\n")
    assert fake.getvalue() == "outside\n"


def test_app_logger_writes_to_wsgi_errors_during_request(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"fw_logging_app_{uuid.uuid4().hex}"
    logging.getLogger(name).propagate = False
    app = Flask(name)
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)

    @app.route("/")
    def index() -> str:
        app.logger.error("inside %s", "view")
        return "ok"

    errors = io.StringIO()
    response = app.test_client().get("/", errors_stream=errors)
    assert response.status_code == 200
    assert "ERROR in test_logging: inside view" in errors.getvalue()
    assert stderr.getvalue() == ""

    app.logger.error("after")
    assert "ERROR in test_logging: after" in stderr.getvalue()
    assert "after" not in errors.getvalue()


def test_app_logger_is_created_once_with_debug_level() -> None:
    name = f"fw_logging_app_{uuid.uuid4().hex}"
    app = Flask(name)
    app.debug = True
    logging.getLogger(name).propagate = False
    assert app.logger is logging.getLogger(name)
    assert app.logger is app.logger
    assert app.logger.level == logging.DEBUG
    assert default_handler in app.logger.handlers
