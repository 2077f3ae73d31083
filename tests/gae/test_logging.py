"""Logs as Cloud Logging reads them: JSON lines with the request's trace."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from framework import Flask
from gae import AppEngine, Settings
from gae.logging import setup_logging

ON_GAE = Settings.from_environ(
    {
        "GAE_ENV": "standard",
        "GOOGLE_CLOUD_PROJECT": "demo",
        "GAE_SERVICE": "web",
        "GAE_VERSION": "v7",
    }
)
SECRET = "0123456789abcdef0123456789abcdef"
TRACE = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = setup_logging(json_format=True, stream=out, settings=ON_GAE)
    try:
        yield out
    finally:
        logging.getLogger().removeHandler(handler)


def make_app() -> Flask:
    app = Flask("logdemo")
    app.config["SECRET_KEY"] = SECRET

    @app.route("/hello")
    def hello() -> str:
        app.logger.warning("hello %s", "world")
        return "ok"

    @app.route("/boom")
    def boom() -> str:
        raise ValueError("kaboom")

    AppEngine(app, settings=ON_GAE)
    return app


def entries(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_log_line_is_json_with_trace_span_and_source(stream: io.StringIO) -> None:
    make_app().test_client().get("/hello", headers={"X-Cloud-Trace-Context": f"{TRACE}/255;o=1"})
    (entry,) = [e for e in entries(stream) if e["logger"] == "logdemo"]
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "hello world"
    assert entry["logging.googleapis.com/trace"] == f"projects/demo/traces/{TRACE}"
    assert entry["logging.googleapis.com/spanId"] == "00000000000000ff"
    assert entry["logging.googleapis.com/trace_sampled"] is True
    source = entry["logging.googleapis.com/sourceLocation"]
    assert isinstance(source, dict)
    assert source["function"] == "hello"
    assert source["file"].endswith("test_logging.py")


def test_no_trace_outside_a_traced_request(stream: io.StringIO) -> None:
    response = (
        make_app().test_client().get("/hello", headers={"X-Cloud-Trace-Context": f"{TRACE}/1;o=1"})
    )
    assert response.text == "ok"  # reading the body completes the response
    logging.getLogger("after").warning("later")
    (entry,) = [e for e in entries(stream) if e["logger"] == "after"]
    assert "logging.googleapis.com/trace" not in entry


def test_unhandled_exception_is_an_error_reporting_event(stream: io.StringIO) -> None:
    response = (
        make_app().test_client().get("/boom", headers={"X-Cloud-Trace-Context": f"{TRACE}/9;o=0"})
    )
    assert response.status_code == 500
    (entry,) = [e for e in entries(stream) if e["severity"] == "ERROR"]
    message = str(entry["message"])
    assert message.startswith("Exception on /boom [GET]")
    assert "Traceback (most recent call last)" in message
    assert "ValueError: kaboom" in message
    assert entry["@type"] == (
        "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"
    )
    assert entry["serviceContext"] == {"service": "web", "version": "v7"}
    assert entry["logging.googleapis.com/trace"] == f"projects/demo/traces/{TRACE}"


def test_readable_lines_off_app_engine() -> None:
    out = io.StringIO()
    handler = setup_logging(json_format=False, stream=out)
    try:
        logging.getLogger("plain").warning("visible %d", 3)
    finally:
        logging.getLogger().removeHandler(handler)
    line = out.getvalue().strip()
    assert "WARNING" in line
    assert "plain: visible 3" in line
    assert not line.startswith("{")


def test_setup_logging_replaces_its_own_handler() -> None:
    first = setup_logging(json_format=True, stream=io.StringIO())
    second = setup_logging(json_format=True, stream=io.StringIO())
    try:
        root = logging.getLogger()
        assert first not in root.handlers
        assert second in root.handlers
    finally:
        logging.getLogger().removeHandler(second)
