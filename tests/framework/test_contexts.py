"""Application and request contexts, the context-bound proxies and streaming with context."""

from __future__ import annotations

import importlib
import threading
import types
import typing as t

import pytest

from ._parity import compare, mod_fixture

mod = mod_fixture()


def _globals(m: types.ModuleType) -> types.ModuleType:
    return importlib.import_module(f"{m.__name__}.globals")


def test_proxies_point_at_the_active_objects(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    app.secret_key = "test key"
    with app.test_request_context("/where?x=1") as ctx:
        assert mod.current_app._get_current_object() is app
        assert mod.request._get_current_object() is ctx.request
        assert mod.request.args["x"] == "1"
        mod.session["k"] = "v"
        assert ctx.session["k"] == "v"
        assert mod.session._get_current_object() is ctx.session
        mod.g.x = 1
        assert _globals(mod).app_ctx.g.x == 1
        assert _globals(mod).request_ctx._get_current_object() is ctx
        assert _globals(mod).request_ctx.request is ctx.request
        assert _globals(mod).app_ctx.app is app


def test_has_context_functions(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    assert not mod.has_app_context()
    assert not mod.has_request_context()
    with app.app_context():
        assert mod.has_app_context()
        assert not mod.has_request_context()
        with app.test_request_context():
            assert mod.has_request_context()
        assert not mod.has_request_context()
        assert mod.has_app_context()
    assert not mod.has_app_context()
    with app.test_request_context():
        # A request context pushes an app context when none is active.
        assert mod.has_app_context()
        assert mod.has_request_context()
    assert not mod.has_app_context()


def test_proxies_are_falsy_outside_contexts(mod: types.ModuleType) -> None:
    assert not mod.current_app
    assert not mod.request
    assert not mod.g
    assert not mod.session


def test_outside_app_context_error_mentions_app_context(mod: types.ModuleType) -> None:
    for use in (
        lambda: mod.current_app.name,
        lambda: mod.g.x,
        lambda: _globals(mod).app_ctx.g,
    ):
        with pytest.raises(RuntimeError) as info:
            use()
        message = str(info.value)
        assert "application context" in message
        assert "app_context()" in message


def test_outside_request_context_error_mentions_test_request_context(
    mod: types.ModuleType,
) -> None:
    app = mod.Flask(__name__)
    with app.app_context():
        for use in (
            lambda: mod.request.args,
            lambda: mod.session.get("x"),
            lambda: _globals(mod).request_ctx.request,
        ):
            with pytest.raises(RuntimeError) as info:
                use()
            message = str(info.value)
            assert "request context" in message
            if mod.__name__ == "framework":
                # Flask's message only points at the docs; ours names the fix.
                assert "test_request_context(" in message


def test_test_request_context_builds_the_request(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)

    @app.route("/items/<int:item>", methods=["POST"])
    def item(item: int) -> str:
        return "x"

    with app.test_request_context(
        "/items/5?a=1&a=2", method="POST", data={"field": "value"}, headers={"X-H": "h"}
    ):
        req = mod.request
        assert req.method == "POST"
        assert req.path == "/items/5"
        assert req.url == "http://localhost/items/5?a=1&a=2"
        assert req.args.getlist("a") == ["1", "2"]
        assert req.form["field"] == "value"
        assert req.headers["X-H"] == "h"
        assert req.endpoint == "item"
        assert req.view_args == {"item": 5}
        assert req.url_rule is not None
        assert req.url_rule.rule == "/items/<int:item>"
    with app.test_request_context("/nowhere"):
        assert mod.request.endpoint is None
        assert mod.request.url_rule is None
        assert mod.request.routing_exception is not None
        assert mod.request.routing_exception.code == 404
    with app.test_request_context("/p", base_url="https://example.test:8443/root", json={"k": [1]}):
        assert mod.request.url == "https://example.test:8443/root/p"
        assert mod.request.script_root == "/root"
        assert mod.request.get_json() == {"k": [1]}


def test_test_request_context_uses_server_name_and_application_root(
    mod: types.ModuleType,
) -> None:
    app = mod.Flask(__name__)
    app.config.update(
        SERVER_NAME="example.test", APPLICATION_ROOT="/app", PREFERRED_URL_SCHEME="https"
    )
    with app.test_request_context("/page"):
        assert mod.request.url == "https://example.test/app/page"
        assert mod.request.host == "example.test"


def test_copy_current_request_context_in_a_thread(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    app.secret_key = "k"
    results: dict[str, t.Any] = {}

    @app.route("/work")
    def work() -> str:
        mod.session["user"] = "ann"

        @mod.copy_current_request_context
        def background(label: str) -> None:
            results["label"] = label
            results["path"] = mod.request.path
            results["arg"] = mod.request.args["n"]
            results["user"] = mod.session["user"]
            results["app"] = mod.current_app.name

        thread = threading.Thread(target=background, args=("job",))
        thread.start()
        thread.join(5)
        return "done"

    assert app.test_client().get("/work?n=3").text == "done"
    assert results == {
        "label": "job",
        "path": "/work",
        "arg": "3",
        "user": "ann",
        "app": app.name,
    }


def test_thread_without_copied_context_has_no_request(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    seen: list[bool] = []

    @app.route("/")
    def index() -> str:
        thread = threading.Thread(target=lambda: seen.append(mod.has_request_context()))
        thread.start()
        thread.join(5)
        return "ok"

    app.test_client().get("/")
    assert seen == [False]


def test_copy_current_request_context_outside_request(mod: types.ModuleType) -> None:
    with pytest.raises(RuntimeError):
        mod.copy_current_request_context(lambda: None)


def test_contexts_of_two_apps_nest(mod: types.ModuleType) -> None:
    first = mod.Flask("first")
    second = mod.Flask("second")
    with first.app_context():
        mod.g.owner = "first"
        with second.test_request_context():
            assert mod.current_app.name == "second"
            assert "owner" not in mod.g
        assert mod.current_app.name == "first"
        assert mod.g.owner == "first"


def test_popping_the_wrong_context_is_an_error(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    outer = app.app_context()
    inner = app.app_context()
    outer.push()
    inner.push()
    try:
        with pytest.raises(AssertionError):
            outer.pop()
    finally:
        # Leave no context behind for the following tests.
        while mod.has_app_context():
            _globals(mod).app_ctx.pop()
    assert not mod.has_app_context()


def _stream_app(m: types.ModuleType) -> t.Any:
    app = m.Flask(__name__)
    events: list[str] = []
    app.extensions["events"] = events

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        events.append("teardown")

    @app.route("/stream")
    def stream() -> t.Any:
        m.g.greeting = "hello"
        events.append("view")

        def generate() -> t.Iterator[str]:
            events.append("start")
            yield f"{m.g.greeting} {m.request.args['name']}"
            yield f" at {m.request.path}"
            events.append("end")

        return m.stream_with_context(generate())

    @app.route("/decorated")
    def decorated() -> t.Any:
        @m.stream_with_context
        def generate() -> t.Iterator[str]:
            yield m.request.args.get("x", "none")

        return generate()

    @app.route("/events")
    def show() -> str:
        out = ",".join(events)
        events.clear()
        return out

    return app


def test_stream_with_context() -> None:
    stream, decorated = compare(_stream_app, "/stream?name=ann", "/decorated?x=1")
    assert stream.text == "hello ann at /stream"
    assert decorated.text == "1"


def test_stream_with_context_teardown_runs_after_view_and_after_stream(
    mod: types.ModuleType,
) -> None:
    # Flask 3.1.3: the contexts are popped when the view returns (teardown runs), pushed again
    # only while the body is iterated, and popped once more when the stream ends.
    app = _stream_app(mod)
    events: list[str] = app.extensions["events"]
    response = app.test_client().get("/stream?name=bo", buffered=False)
    try:
        # The test client pulls the first chunk eagerly.
        assert events == ["view", "teardown", "start"]
        assert response.get_data() == b"hello bo at /stream"
    finally:
        response.close()
    assert events == ["view", "teardown", "start", "end", "teardown"]
    assert not mod.has_request_context()
    assert not mod.has_app_context()


def test_generator_without_stream_with_context_has_no_request(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)

    @app.route("/")
    def index() -> t.Any:
        def generate() -> t.Iterator[str]:
            yield str(mod.has_request_context())

        return generate()

    assert app.test_client().get("/").text == "False"


def test_stream_with_context_outside_request_is_runtime_error(mod: types.ModuleType) -> None:
    with pytest.raises(RuntimeError):
        mod.stream_with_context(iter(["x"]))


def test_app_context_url_adapter_and_request_ctx_attributes(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    with app.app_context() as ctx:
        assert ctx.app is app
        assert ctx.url_adapter is None
    app.config["SERVER_NAME"] = "example.test"
    with app.app_context() as ctx:
        assert ctx.url_adapter is not None
    with app.test_request_context("/") as rctx:
        assert rctx.app is app
        assert rctx.url_adapter is not None
        assert rctx.request.environ["PATH_INFO"] == "/"
