"""App Engine request headers with values no front end sends: ignored, never a 500."""

from __future__ import annotations

import pytest

from framework import Flask, jsonify, request
from gae import AppEngine, Settings
from gae.headers import AppEngineHeaders, parse_trace

TRACE = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("header", "span_id"),
    [
        (f"{TRACE}/42;o=1", f"{42:016x}"),
        (f"{TRACE}/{2**64 - 1}", "f" * 16),
        (f"{TRACE}/{2**64}", None),  # over 64 bits
        (f"{TRACE}/{'9' * 5000};o=1", None),  # int() refuses over 4,300 digits
    ],
)
def test_cloud_trace_span_of_any_length(header: str, span_id: str | None) -> None:
    trace = parse_trace({"HTTP_X_CLOUD_TRACE_CONTEXT": header})
    assert trace is not None
    assert (trace.trace_id, trace.span_id) == (TRACE, span_id)


@pytest.mark.parametrize(
    ("value", "expected"), [("3", 3), ("\u00b2", None), ("9" * 5000, None), ("-1", None)]
)
def test_task_retry_count_that_is_not_a_number(value: str, expected: int | None) -> None:
    headers = AppEngineHeaders.from_environ(
        {"gae.trusted": True, "HTTP_X_APPENGINE_TASKRETRYCOUNT": value}
    )
    assert headers.task_retry_count == expected


def test_hostile_trusted_headers_are_served() -> None:
    app = Flask(__name__)
    # No Datastore here: no ndb context either (ndb may be imported by other tests).
    app.config.update(TESTING=True, GAE_TRUST_HEADERS=True, GAE_NDB_SKIP_PREFIXES=("/",))

    @app.route("/")
    def index() -> object:
        h = request.appengine  # type: ignore[attr-defined]
        return jsonify(trace=h.trace_id, retries=h.task_retry_count)

    AppEngine(app, settings=Settings.from_environ({}))
    response = app.test_client().get(
        "/",
        headers={
            "X-Cloud-Trace-Context": f"{TRACE}/{'9' * 5000};o=1",
            "X-AppEngine-TaskRetryCount": "\u00b2",
        },
    )
    assert response.status_code == 200
    assert response.get_json() == {"trace": TRACE, "retries": None}
