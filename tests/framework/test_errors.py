"""Error handlers, propagation and trapping of HTTP errors."""

from __future__ import annotations

import logging
import types
import typing as t

import pytest
from werkzeug.exceptions import (
    BadRequest,
    BadRequestKeyError,
    Forbidden,
    HTTPException,
    InternalServerError,
    NotFound,
)

from ._parity import compare, mod_fixture, outcomes

mod = mod_fixture()


class AppError(Exception):
    pass


class SpecificError(AppError):
    pass


class MoreSpecificError(SpecificError):
    pass


class PaymentRequired(HTTPException):
    code = 402
    description = "Pay first."


def _error_app(m: types.ModuleType, **config: t.Any) -> t.Any:
    app = m.Flask(__name__)
    app.logger.disabled = True
    app.config.update(config)

    @app.route("/raise/<kind>")
    def raise_(kind: str) -> str:
        errors: dict[str, BaseException] = {
            "value": ValueError("bad value"),
            "app": AppError("app"),
            "specific": SpecificError("specific"),
            "more": MoreSpecificError("more"),
            "lookup": LookupError("lookup"),
            "key": KeyError("key"),
            "payment": PaymentRequired(),
            "forbidden": Forbidden(),
        }
        raise errors[kind]

    @app.route("/abort/<int:code>")
    def abort_(code: int) -> str:
        m.abort(code)

    return app


def test_handler_by_code_and_by_class() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _error_app(m)

        @app.errorhandler(404)
        def not_found(e: NotFound) -> tuple[str, int]:
            return f"custom 404: {type(e).__name__} {e.code}", 404

        @app.errorhandler(ValueError)
        def value_error(e: ValueError) -> tuple[str, int, dict[str, str]]:
            return f"value error: {e}", 422, {"X-Handled": "value"}

        def payment(e: PaymentRequired) -> str:
            return f"payment handler: {e.description}"

        app.register_error_handler(PaymentRequired, payment)
        return app

    routed, aborted, value, payment, unhandled = compare(
        build, "/nowhere", "/abort/404", "/raise/value", "/raise/payment", "/raise/lookup"
    )
    assert (routed.code, routed.text) == (404, "custom 404: NotFound 404")
    assert (aborted.code, aborted.text) == (404, "custom 404: NotFound 404")
    assert (value.code, value.text, value.header("X-Handled")) == (
        422,
        "value error: bad value",
        "value",
    )
    # A handler's plain return value gets status 200 unless it gives one.
    assert (payment.code, payment.text) == (200, "payment handler: Pay first.")
    assert unhandled.code == 500


def test_most_specific_class_in_mro_wins() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _error_app(m)
        for cls in (Exception, AppError, SpecificError, LookupError):
            app.register_error_handler(cls, lambda e, cls=cls: f"{cls.__name__} handled")
        return app

    results = compare(
        build, "/raise/app", "/raise/specific", "/raise/more", "/raise/key", "/raise/value"
    )
    assert [r.text for r in results] == [
        "AppError handled",
        "SpecificError handled",
        "SpecificError handled",
        "LookupError handled",
        "Exception handled",
    ]


def test_exception_handler_does_not_catch_http_errors_unless_registered_for_them() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _error_app(m)
        app.register_error_handler(Exception, lambda e: ("generic exception handler", 500))
        return app

    not_found, forbidden = compare(build, "/abort/404", "/raise/forbidden")
    # An Exception handler catches HTTPExceptions too (they are exceptions).
    assert not_found.text == "generic exception handler"
    assert forbidden.text == "generic exception handler"


def test_generic_http_exception_handler() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _error_app(m)
        app.add_url_rule("/only-get", "only_get", lambda: "x")

        @app.errorhandler(HTTPException)
        def http_error(e: HTTPException) -> t.Any:
            return m.jsonify(code=e.code, name=e.name), e.code

        @app.errorhandler(403)
        def forbidden(e: Forbidden) -> tuple[str, int]:
            return "specific 403", 403

        return app

    missing, wrong_method, teapot, forbidden, payment, crash = compare(
        build,
        "/nowhere",
        lambda c: c.post("/only-get"),
        "/abort/418",
        "/raise/forbidden",
        "/raise/payment",
        "/raise/value",
    )
    assert (missing.code, missing.text) == (404, '{"code":404,"name":"Not Found"}\n')
    assert wrong_method.code == 405
    assert wrong_method.text == '{"code":405,"name":"Method Not Allowed"}\n'
    assert teapot.text == '{"code":418,"name":"I\'m a teapot"}\n'
    assert forbidden.text == "specific 403"
    assert payment.text == '{"code":402,"name":"Payment Required"}\n'
    # Non-HTTP errors are not HTTPExceptions: the plain 500 page.
    assert crash.code == 500
    assert b"Internal Server Error" in crash.body


def test_500_handler_gets_internal_server_error_with_original_exception() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _error_app(m)

        @app.errorhandler(500)
        def server_error(e: InternalServerError) -> tuple[str, int]:
            original = e.original_exception
            return f"{type(e).__name__} original={type(original).__name__}:{original}", 500

        return app

    crash, aborted = compare(build, "/raise/value", "/abort/500")
    assert crash.text == "InternalServerError original=ValueError:bad value"
    assert aborted.text == "InternalServerError original=NoneType:None"


def test_internal_server_error_class_handler_is_the_500_handler() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _error_app(m)
        app.register_error_handler(InternalServerError, lambda e: ("isr class handler", 500))
        return app

    (crash,) = compare(build, "/raise/app")
    assert (crash.code, crash.text) == (500, "isr class handler")


def test_unhandled_error_is_logged_with_path_and_method(
    mod: types.ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    app = _error_app(mod)
    app.logger.disabled = False
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/raise/value")
    assert response.status_code == 500
    records = [r for r in caplog.records if r.name == app.name]
    assert len(records) == 1
    assert records[0].getMessage() == "Exception on /raise/value [GET]"
    assert records[0].exc_info is not None
    assert records[0].exc_info[0] is ValueError


@pytest.mark.parametrize(
    ("config", "propagates"),
    [
        ({}, False),
        ({"TESTING": True}, True),
        ({"DEBUG": True}, True),
        ({"PROPAGATE_EXCEPTIONS": True}, True),
        ({"TESTING": True, "PROPAGATE_EXCEPTIONS": False}, False),
        ({"DEBUG": True, "PROPAGATE_EXCEPTIONS": False}, False),
    ],
)
def test_propagate_exceptions(
    mod: types.ModuleType, config: dict[str, t.Any], propagates: bool
) -> None:
    app = _error_app(mod, **config)
    client = app.test_client()
    if propagates:
        with pytest.raises(ValueError, match="bad value"):
            client.get("/raise/value")
    else:
        response = client.get("/raise/value")
        assert response.status_code == 500
        assert b"Internal Server Error" in response.data
    # HTTP errors are responses, never propagated.
    assert client.get("/abort/404").status_code == 404


def test_trap_http_exceptions(mod: types.ModuleType) -> None:
    app = _error_app(mod, TRAP_HTTP_EXCEPTIONS=True, TESTING=True)
    client = app.test_client()
    with pytest.raises(NotFound):
        client.get("/abort/404")
    with pytest.raises(NotFound):
        client.get("/no/such/route")
    with pytest.raises(Forbidden):
        client.get("/raise/forbidden")


def test_trap_http_exceptions_matches_flask() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _error_app(m, TRAP_HTTP_EXCEPTIONS=True)
        app.register_error_handler(403, lambda e: ("trapped but handled", 403))
        return app

    not_found, forbidden = compare(build, "/abort/404", "/raise/forbidden")
    # Trapped and not testing: the HTTP error becomes an unhandled error, a 500.
    assert not_found.code == 500
    # A handler registered for the code still applies.
    assert (forbidden.code, forbidden.text) == (403, "trapped but handled")


def _form_app(m: types.ModuleType, **config: t.Any) -> t.Any:
    app = m.Flask(__name__)
    app.logger.disabled = True
    app.config.update(config)

    @app.route("/form", methods=["POST"])
    def form() -> str:
        return m.request.form["missing_field"]

    @app.route("/bad")
    def bad() -> str:
        raise BadRequest("plain bad request")

    return app


def test_bad_request_key_error_default_hides_key() -> None:
    (res,) = compare(_form_app, lambda c: c.post("/form", data={"other": "1"}))
    assert res.code == 400
    assert b"missing_field" not in res.body


def test_trap_bad_request_errors(mod: types.ModuleType) -> None:
    client = _form_app(mod, TRAP_BAD_REQUEST_ERRORS=True, TESTING=True).test_client()
    with pytest.raises(BadRequestKeyError) as info:
        client.post("/form", data={"other": "1"})
    assert "missing_field" in str(info.value)
    with pytest.raises(BadRequest):
        client.get("/bad")


def test_debug_traps_bad_request_key_error_showing_the_key(mod: types.ModuleType) -> None:
    client = _form_app(mod, DEBUG=True).test_client()
    with pytest.raises(BadRequestKeyError) as info:
        client.post("/form", data={"other": "1"})
    assert "missing_field" in str(info.value)
    # Other bad requests are not trapped in debug mode.
    assert client.get("/bad").status_code == 400


def test_debug_untrapped_bad_request_key_error_shows_key_in_body() -> None:
    build = lambda m: _form_app(m, DEBUG=True, TRAP_BAD_REQUEST_ERRORS=False)  # noqa: E731
    (res,) = compare(build, lambda c: c.post("/form", data={"other": "1"}))
    assert res.code == 400
    assert b"missing_field" in res.body


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (999, ValueError),
        (ValueError("instance"), TypeError),
        (str, ValueError),
        (BaseException, ValueError),
        (KeyboardInterrupt, ValueError),
        ("ValueError", TypeError),
    ],
)
def test_registering_invalid_handlers_raises(
    mod: types.ModuleType, spec: t.Any, error: type[Exception]
) -> None:
    app = mod.Flask(__name__)
    with pytest.raises(error):
        app.errorhandler(spec)(lambda e: "x")
    with pytest.raises(error):
        app.register_error_handler(spec, lambda e: "x")


def test_error_in_error_handler_becomes_500() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _error_app(m)

        @app.errorhandler(ValueError)
        def broken(e: ValueError) -> str:
            raise KeyError("handler broke")

        @app.errorhandler(404)
        def reraise(e: NotFound) -> str:
            m.abort(403)

        @app.errorhandler(500)
        def server_error(e: InternalServerError) -> tuple[str, int]:
            original = e.original_exception
            return f"500 handler saw {type(original).__name__}", 500

        return app

    broken, reraised = compare(build, "/raise/value", "/abort/404")
    assert (broken.code, broken.text) == (500, "500 handler saw KeyError")
    assert (reraised.code, reraised.text) == (500, "500 handler saw Forbidden")


def test_error_in_500_handler_escapes_the_app() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _error_app(m)

        @app.errorhandler(500)
        def broken(e: InternalServerError) -> str:
            raise RuntimeError("500 handler broke")

        return app

    results = outcomes(build, "/raise/value")
    assert results["framework"] == results["flask"]
    assert results["framework"][0].type_name == "RuntimeError"


def test_after_request_failing_while_handling_error_still_sends_500() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _error_app(m)

        @app.after_request
        def broken(response: t.Any) -> t.Any:
            if response.status_code == 500:
                raise RuntimeError("after_request broke")
            return response

        return app

    (res,) = compare(build, "/raise/value")
    assert res.code == 500


def test_abort_with_response_and_custom_exception() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)

        @app.route("/resp")
        def resp() -> str:
            m.abort(m.Response("custom abort body", status=402, headers={"X-Why": "pay"}))

        @app.route("/described")
        def described() -> str:
            m.abort(400, description="You sent <nonsense>.")

        @app.errorhandler(400)
        def bad(e: BadRequest) -> tuple[str, int]:
            return f"400: {e.description}", 400

        return app

    resp, described = compare(build, "/resp", "/described")
    assert (resp.code, resp.text, resp.header("X-Why")) == (402, "custom abort body", "pay")
    assert described.text == "400: You sent <nonsense>."


def test_handler_receives_the_raised_instance(mod: types.ModuleType) -> None:
    app = _error_app(mod)
    seen: list[BaseException] = []

    @app.errorhandler(AppError)
    def handler(e: AppError) -> str:
        seen.append(e)
        return "ok"

    app.test_client().get("/raise/more")
    assert len(seen) == 1
    assert type(seen[0]) is MoreSpecificError
    assert str(seen[0]) == "more"


def test_routing_error_handler_sees_no_rule() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)

        @app.errorhandler(404)
        def not_found(e: NotFound) -> tuple[str, int]:
            req = m.request
            return f"{req.url_rule} {req.view_args} {req.endpoint} {req.path}", 404

        return app

    (res,) = compare(build, "/nothing/here")
    assert res.text == "None None None /nothing/here"


class StopEverything(BaseException):
    """Not an Exception: must escape the app (after teardown), never become a 500."""


def test_routing_redirects_bypass_error_handlers_and_hooks_still_run() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)
        app.register_error_handler(HTTPException, lambda e: (f"generic {e.code}", e.code))
        app.add_url_rule("/dir/", "directory", lambda: "dir")

        @app.before_request
        def add_header() -> None:
            m.after_this_request(lambda r: (r.headers.__setitem__("X-Hook", "ran"), r)[1])

        return app

    redirect, missing = compare(build, "/dir", "/nowhere")
    # RequestRedirect is an HTTPException but never goes to an error handler.
    assert redirect.code == 308
    assert redirect.header("Location") == "http://localhost/dir/"
    assert redirect.header("X-Hook") == "ran"
    assert (missing.text, missing.header("X-Hook")) == ("generic 404", "ran")


def test_untrusted_host_is_400() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)
        app.config["TRUSTED_HOSTS"] = ["localhost", ".good.test"]
        app.add_url_rule("/", "index", lambda: m.request.host)
        return app

    local, sub, evil = compare(
        build,
        "/",
        lambda c: c.get("/", base_url="http://api.good.test"),
        lambda c: c.get("/", base_url="http://evil.test"),
    )
    assert local.text == "localhost"
    assert sub.text == "api.good.test"
    assert evil.code == 400


def test_error_handler_returning_none_is_a_500() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _error_app(m)
        app.register_error_handler(PaymentRequired, lambda e: None)
        return app

    (res,) = compare(build, "/raise/payment")
    assert res.code == 500


def test_base_exception_escapes_after_teardown(mod: types.ModuleType) -> None:
    app = _error_app(mod)
    seen: list[str] = []
    app.teardown_request(lambda e: seen.append(type(e).__name__))
    app.register_error_handler(Exception, lambda e: "handled")
    app.register_error_handler(500, lambda e: "handled 500")

    @app.route("/stop")
    def stop() -> str:
        raise StopEverything()

    with pytest.raises(StopEverything):
        app.test_client().get("/stop")
    assert seen == ["StopEverything"]
    assert not mod.has_request_context()
