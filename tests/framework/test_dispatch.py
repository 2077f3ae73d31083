"""Request hooks: before/after request, after_this_request, teardown, ``g`` lifetime."""

from __future__ import annotations

import types
import typing as t

import pytest

from ._parity import compare, mod_fixture

mod = mod_fixture()


def test_before_request_short_circuits_but_after_request_runs() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)
        calls: list[str] = []
        app.extensions["calls"] = calls

        @app.before_request
        def first() -> t.Any:
            calls.append("first")
            if m.request.args.get("stop"):
                return "stopped early", 403
            return None

        @app.before_request
        def second() -> None:
            calls.append("second")

        @app.after_request
        def after(response: t.Any) -> t.Any:
            calls.append("after")
            response.headers["X-After"] = "ran"
            return response

        @app.route("/")
        def index() -> str:
            calls.append("view")
            return "view ran"

        @app.route("/calls")
        def show_calls() -> str:
            out = ",".join(calls)
            calls.clear()
            return out

        return app

    stopped, calls1, normal, calls2 = compare(build, "/?stop=1", "/calls", "/", "/calls")
    assert (stopped.code, stopped.text, stopped.header("X-After")) == (403, "stopped early", "ran")
    assert calls1.text == "first,after,first,second"
    assert (normal.code, normal.text) == (200, "view ran")
    # "after" of the previous /calls request comes first: it ran after the list was read.
    assert calls2.text == "after,first,second,view,after,first,second"


def test_after_request_order_and_after_this_request() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)

        def tagger(name: str) -> t.Callable[[t.Any], t.Any]:
            def after(response: t.Any) -> t.Any:
                response.headers.add("X-Order", name)
                return response

            return after

        app.after_request(tagger("registered-first"))
        app.after_request(tagger("registered-second"))

        @app.route("/")
        def index() -> str:
            m.after_this_request(tagger("this-request-1"))
            m.after_this_request(tagger("this-request-2"))
            return "ok"

        @app.route("/plain")
        def plain() -> str:
            return "plain"

        return app

    index, plain = compare(build, "/", "/plain")
    assert index.header("X-Order") == (
        "this-request-1, this-request-2, registered-second, registered-first"
    )
    assert plain.header("X-Order") == "registered-second, registered-first"


def test_after_request_can_replace_response(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)

    @app.after_request
    def replace(response: t.Any) -> t.Any:
        return mod.Response("replaced", status=202)

    app.add_url_rule("/", "index", lambda: "original")
    response = app.test_client().get("/")
    assert (response.status_code, response.text) == (202, "replaced")


def test_after_this_request_outside_request_is_runtime_error(mod: types.ModuleType) -> None:
    with pytest.raises(RuntimeError):
        mod.after_this_request(lambda r: r)


def test_teardown_request_receives_exception() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)
        app.config["PROPAGATE_EXCEPTIONS"] = False
        seen: list[str] = []

        @app.teardown_request
        def teardown(exc: BaseException | None) -> None:
            seen.append(f"{type(exc).__name__}:{exc}" if exc is not None else "None")

        @app.errorhandler(KeyError)
        def handled(e: KeyError) -> tuple[str, int]:
            return "handled", 409

        @app.route("/ok")
        def ok() -> str:
            return "ok"

        @app.route("/boom")
        def boom() -> str:
            raise ValueError("kaboom")

        @app.route("/handled")
        def handled_view() -> str:
            raise KeyError("k")

        @app.route("/abort")
        def aborted() -> str:
            m.abort(404)

        @app.route("/seen")
        def show() -> str:
            out = "|".join(seen)
            seen.clear()
            return out

        return app

    ok, seen1, boom, seen2, handled, seen3, aborted, seen4 = compare(
        build, "/ok", "/seen", "/boom", "/seen", "/handled", "/seen", "/abort", "/seen"
    )
    assert ok.text == "ok"
    assert seen1.text == "None"
    assert boom.code == 500
    # Each /seen request's own teardown shows up in the next listing.
    assert seen2.text == "None|ValueError:kaboom"
    assert handled.code == 409
    # A handled error (and an HTTP error) is not an error for teardown.
    assert seen3.text == "None|None"
    assert aborted.code == 404
    assert seen4.text == "None|None"


def test_teardown_runs_in_reverse_order_with_request_available(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    order: list[str] = []

    @app.teardown_request
    def one(exc: BaseException | None) -> None:
        order.append(f"one {mod.request.path}")

    @app.teardown_request
    def two(exc: BaseException | None) -> None:
        order.append(f"two {mod.g.get('marker')}")

    @app.teardown_appcontext
    def app_one(exc: BaseException | None) -> None:
        order.append("app one")

    @app.teardown_appcontext
    def app_two(exc: BaseException | None) -> None:
        order.append("app two")

    @app.route("/here")
    def here() -> str:
        mod.g.marker = "g-still-set"
        return "here"

    app.test_client().get("/here")
    assert order == ["two g-still-set", "one /here", "app two", "app one"]


def test_teardown_request_sees_propagated_exception(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    app.testing = True
    seen: list[BaseException | None] = []
    app.teardown_request(seen.append)
    app.teardown_appcontext(seen.append)

    @app.route("/")
    def boom() -> str:
        raise LookupError("propagated")

    with pytest.raises(LookupError):
        app.test_client().get("/")
    assert [type(e) for e in seen] == [LookupError, LookupError]


def test_teardown_appcontext(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    seen: list[t.Any] = []

    @app.teardown_appcontext
    def teardown(exc: BaseException | None) -> None:
        seen.append(exc)

    with app.app_context():
        assert seen == []
    assert seen == [None]

    with pytest.raises(ZeroDivisionError), app.app_context():
        1 / 0  # noqa: B018
    assert isinstance(seen[-1], ZeroDivisionError)

    ctx = app.app_context()
    ctx.push()
    ctx.pop()
    assert seen[-1] is None
    assert len(seen) == 3


def test_teardown_error_in_before_request(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    events: list[str] = []

    @app.before_request
    def fail() -> None:
        raise RuntimeError("before failed")

    @app.after_request
    def after(response: t.Any) -> t.Any:
        events.append(f"after {response.status_code}")
        return response

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        events.append(f"teardown {type(exc).__name__}")

    app.add_url_rule("/", "index", lambda: "unreached")
    response = app.test_client().get("/")
    assert response.status_code == 500
    # The 500 response is finalized too, so after_request sees it.
    assert events == ["after 500", "teardown RuntimeError"]


def test_g_lifetime(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)

    @app.before_request
    def load() -> None:
        mod.g.count = mod.g.get("count", 0) + 1

    @app.route("/")
    def index() -> str:
        return str(mod.g.count)

    client = app.test_client()
    # A fresh g per request.
    assert client.get("/").text == "1"
    assert client.get("/").text == "1"

    with app.app_context():
        mod.g.count = 10
        # A request context inside an app context of the same app shares its g.
        with app.test_request_context("/"):
            assert mod.g.count == 10
            mod.g.inner = True
        assert mod.g.inner is True
    with app.app_context():
        assert "count" not in mod.g
        assert mod.g.get("count") is None


def test_g_namespace_methods(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    with app.app_context():
        g = mod.g
        assert g.get("a") is None
        assert g.get("a", 1) == 1
        assert g.setdefault("a", 2) == 2
        assert g.setdefault("a", 3) == 2
        assert "a" in g
        assert list(g) == ["a"]
        assert g.pop("a") == 2
        assert g.pop("a", "gone") == "gone"
        with pytest.raises(KeyError):
            g.pop("a")
        with pytest.raises(AttributeError):
            g.missing  # noqa: B018
        g.b = 1
        del g.b
        with pytest.raises(AttributeError):
            del g.b


def test_wsgi_middleware_wraps_wsgi_app(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    app.add_url_rule("/", "index", lambda: mod.request.environ.get("X_MIDDLEWARE", "missing"))
    inner = app.wsgi_app

    def middleware(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        environ["X_MIDDLEWARE"] = "wrapped"
        return inner(environ, start_response)

    app.wsgi_app = middleware  # type: ignore[method-assign]
    assert app.test_client().get("/").text == "wrapped"


def test_async_view_and_hooks(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)

    @app.before_request
    async def before() -> None:
        mod.g.before = "async before"

    @app.route("/")
    async def index() -> str:
        return f"{mod.g.before} + async view"

    assert app.test_client().get("/").text == "async before + async view"


def test_view_args_are_passed_as_keywords() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)

        @app.route("/<a>/<int:b>")
        def view(b: int, a: str) -> str:
            return f"a={a} b={b + 1}"

        return app

    (res,) = compare(build, "/x/41")
    assert res.text == "a=x b=42"


def test_url_value_preprocessors_run_for_failed_routing_too() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)
        calls: list[str] = []

        @app.url_value_preprocessor
        def record(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
            calls.append(f"{endpoint}:{values}")

        app.add_url_rule("/n/<int:n>", "number", lambda n: "number")

        @app.route("/calls")
        def show() -> str:
            out = "|".join(calls)
            calls.clear()
            return out

        return app

    _, matched, _, missing, _, wrong_method = compare(
        build, "/n/1", "/calls", "/nope", "/calls", lambda c: c.post("/n/1"), "/calls"
    )
    assert matched.text == "number:{'n': 1}|show:{}"
    assert missing.text == "None:None|show:{}"
    assert wrong_method.text == "None:None|show:{}"


def test_async_handlers_hooks_and_teardown() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)
        log: list[str] = []

        @app.errorhandler(ValueError)
        async def handler(e: ValueError) -> tuple[str, int]:
            return f"async handler {e}", 409

        @app.after_request
        async def after(response: t.Any) -> t.Any:
            response.headers["X-Async"] = "1"
            return response

        @app.teardown_request
        async def teardown(exc: BaseException | None) -> None:
            log.append(f"teardown {type(exc).__name__}")

        @app.teardown_appcontext
        async def teardown_app(exc: BaseException | None) -> None:
            log.append("teardown app")

        @app.route("/fail")
        async def fail() -> str:
            raise ValueError("x")

        @app.route("/log")
        def show() -> str:
            out = ",".join(log)
            log.clear()
            return out

        @app.route("/this")
        def this() -> str:
            async def add(response: t.Any) -> t.Any:
                response.headers["X-This"] = "a"
                return response

            m.after_this_request(add)
            return "this"

        @app.route("/copy")
        def copy() -> t.Any:
            @m.copy_current_request_context
            async def path() -> str:
                return m.request.path

            return path()

        return app

    fail, log, this, copy = compare(build, "/fail", "/log", "/this", "/copy")
    assert (fail.code, fail.text, fail.header("X-Async")) == (409, "async handler x", "1")
    assert log.text == "teardown NoneType,teardown app"
    assert (this.header("X-This"), this.header("X-Async")) == ("a", "1")
    assert copy.text == "/copy"
