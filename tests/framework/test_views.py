"""Class-based views, run against our framework and against Flask for the same results."""

from __future__ import annotations

import asyncio
import functools
import importlib
import types
import typing as t

import pytest


@pytest.fixture(params=["framework", "flask"])
def mod(request: pytest.FixtureRequest) -> types.ModuleType:
    # Running every scenario on Flask too shows the expectations are Flask's behaviour.
    module = importlib.import_module(request.param)
    importlib.import_module(f"{request.param}.views")
    return module


def _app(mod: types.ModuleType) -> t.Any:
    return mod.Flask(f"views_{mod.__name__}")


def test_view_dispatch_request_with_url_values_and_class_args(mod: types.ModuleType) -> None:
    class Greeting(mod.views.View):  # type: ignore[misc,name-defined]
        def __init__(self, greeting: str, punctuation: str = ".") -> None:
            self.greeting = greeting
            self.punctuation = punctuation

        def dispatch_request(self, name: str) -> str:
            return f"{self.greeting}, {name}{self.punctuation}"

    app = _app(mod)
    app.add_url_rule("/<name>", view_func=Greeting.as_view("greet", "Hello", punctuation="!"))
    client = app.test_client()
    assert client.get("/Ann").text == "Hello, Ann!"
    # methods=None means the route default: GET (plus HEAD and OPTIONS).
    assert client.post("/Ann").status_code == 405
    assert client.head("/Ann").status_code == 200
    with app.test_request_context():
        assert mod.url_for("greet", name="Bo") == "/Bo"


def test_as_view_function_attributes(mod: types.ModuleType) -> None:
    class Report(mod.views.View):  # type: ignore[misc,name-defined]
        """Quarterly report."""

        methods: t.ClassVar[list[str]] = ["GET", "POST"]
        provide_automatic_options = False

        def dispatch_request(self) -> str:
            return "report"

    view = Report.as_view("report")
    assert view.__name__ == "report"
    assert view.__doc__ == "Quarterly report."
    assert view.__module__ == __name__
    assert view.view_class is Report
    assert view.methods == ["GET", "POST"]
    assert view.provide_automatic_options is False

    app = _app(mod)
    app.add_url_rule("/report", view_func=view)
    client = app.test_client()
    assert client.post("/report").text == "report"
    assert client.open("/report", method="OPTIONS").status_code == 405
    assert client.put("/report").status_code == 405


def test_init_every_request_controls_instance_lifetime(mod: types.ModuleType) -> None:
    created: list[object] = []

    class Fresh(mod.views.View):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            created.append(self)

        def dispatch_request(self) -> str:
            return str(id(self))

    class Shared(Fresh):
        init_every_request = False

    app = _app(mod)
    app.add_url_rule("/fresh", view_func=Fresh.as_view("fresh"))
    assert created == []
    app.add_url_rule("/shared", view_func=Shared.as_view("shared"))
    assert len(created) == 1  # built once, by as_view

    client = app.test_client()
    fresh_ids = {client.get("/fresh").text for _ in range(3)}
    shared_ids = {client.get("/shared").text for _ in range(3)}
    assert len(shared_ids) == 1
    assert shared_ids == {str(id(created[0]))}
    assert len(created) == 4
    assert len(fresh_ids) >= 1  # ids may be reused once an instance is freed
    assert all(type(obj) is Fresh for obj in created[1:])


def test_decorators_apply_in_list_order(mod: types.ModuleType) -> None:
    calls: list[str] = []

    def tag(label: str) -> t.Callable[[t.Callable[..., t.Any]], t.Callable[..., t.Any]]:
        def decorator(f: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
            @functools.wraps(f)
            def wrapper(**kwargs: t.Any) -> t.Any:
                calls.append(label)
                return f(**kwargs)

            return wrapper

        return decorator

    class Decorated(mod.views.View):  # type: ignore[misc,name-defined]
        decorators: t.ClassVar[list[t.Callable[..., t.Any]]] = [tag("first"), tag("second")]

        def dispatch_request(self) -> str:
            calls.append("view")
            return "done"

    view = Decorated.as_view("decorated")
    # functools.wraps copied the endpoint name before as_view set it again.
    assert view.__name__ == "decorated"
    assert view.view_class is Decorated

    app = _app(mod)
    app.add_url_rule("/", view_func=view)
    assert app.test_client().get("/").text == "done"
    # The first decorator is innermost, so the last one runs first.
    assert calls == ["second", "first", "view"]


def test_method_view_dispatch_and_derived_methods(mod: types.ModuleType) -> None:
    class Items(mod.views.MethodView):  # type: ignore[misc,name-defined]
        def get(self, item_id: int) -> str:
            return f"get {item_id}"

        def post(self, item_id: int) -> tuple[str, int]:
            return f"post {item_id}", 201

    assert set(Items.methods) == {"GET", "POST"}

    app = _app(mod)
    app.add_url_rule("/items/<int:item_id>", view_func=Items.as_view("items"))
    client = app.test_client()
    assert client.get("/items/3").text == "get 3"
    response = client.post("/items/4")
    assert (response.status_code, response.text) == (201, "post 4")
    assert client.delete("/items/4").status_code == 405
    head = client.head("/items/5")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Length"] == str(len("get 5"))
    options = client.open("/items/5", method="OPTIONS")
    assert set(options.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_method_view_methods_include_bases_and_mixins(mod: types.ModuleType) -> None:
    class DeleteMixin:
        def delete(self) -> str:
            return "deleted"

    class Base(mod.views.MethodView):  # type: ignore[misc,name-defined]
        def get(self) -> str:
            return "base get"

    class Child(DeleteMixin, Base):
        def put(self) -> str:
            return "put"

    class Explicit(Base):
        methods: t.ClassVar[list[str]] = ["GET"]

        def post(self) -> str:
            return "never routed"

    assert set(Base.methods) == {"GET"}
    assert set(Child.methods) == {"GET", "PUT", "DELETE"}
    assert Explicit.methods == ["GET"]
    assert mod.views.MethodView.methods is None

    app = _app(mod)
    app.add_url_rule("/child", view_func=Child.as_view("child"))
    app.add_url_rule("/explicit", view_func=Explicit.as_view("explicit"))
    client = app.test_client()
    assert client.get("/child").text == "base get"
    assert client.delete("/child").text == "deleted"
    assert client.put("/child").text == "put"
    assert client.post("/explicit").status_code == 405


def test_method_view_explicit_head_wins_over_get(mod: types.ModuleType) -> None:
    class Probe(mod.views.MethodView):  # type: ignore[misc,name-defined]
        def get(self) -> str:
            return "get"

        def head(self) -> tuple[str, int, dict[str, str]]:
            return "", 204, {"X-Head": "yes"}

    app = _app(mod)
    app.add_url_rule("/", view_func=Probe.as_view("probe"))
    response = app.test_client().head("/")
    assert response.status_code == 204
    assert response.headers["X-Head"] == "yes"


def test_view_without_dispatch_request_is_a_server_error(mod: types.ModuleType) -> None:
    class Empty(mod.views.View):  # type: ignore[misc,name-defined]
        pass

    app = _app(mod)
    app.add_url_rule("/", view_func=Empty.as_view("empty"))
    assert app.test_client().get("/").status_code == 500
    app.testing = True
    with pytest.raises(NotImplementedError):
        app.test_client().get("/")


def test_async_handlers_go_through_app_ensure_sync(mod: types.ModuleType) -> None:
    class AsyncioApp(mod.Flask):  # type: ignore[misc,name-defined]
        # The documented extension point for running coroutines without asgiref.
        def async_to_sync(
            self, func: t.Callable[..., t.Coroutine[t.Any, t.Any, t.Any]]
        ) -> t.Callable[..., t.Any]:
            def run(*args: t.Any, **kwargs: t.Any) -> t.Any:
                return asyncio.run(func(*args, **kwargs))

            return run

    class AsyncMethods(mod.views.MethodView):  # type: ignore[misc,name-defined]
        async def get(self, n: int) -> str:
            await asyncio.sleep(0)
            return f"async get {n}"

    class AsyncDispatch(mod.views.View):  # type: ignore[misc,name-defined]
        init_every_request = False

        async def dispatch_request(self) -> str:
            return "async dispatch"

    app = AsyncioApp("views_async")
    app.add_url_rule("/m/<int:n>", view_func=AsyncMethods.as_view("m"))
    app.add_url_rule("/d", view_func=AsyncDispatch.as_view("d"))
    client = app.test_client()
    assert client.get("/m/7").text == "async get 7"
    assert client.get("/d").text == "async dispatch"


def test_method_view_subclass_inherits_custom_verbs(mod: types.ModuleType) -> None:
    class DavBase(mod.views.MethodView):  # type: ignore[misc,name-defined]
        # A verb outside the standard set is only known through the explicit list.
        methods: t.ClassVar[list[str]] = ["GET", "PROPFIND"]

        def get(self) -> str:
            return "get"

        def propfind(self) -> tuple[str, int]:
            return "props", 207

    class Dav(DavBase):
        def put(self) -> str:
            return "put"

    assert set(Dav.methods) == {"GET", "PROPFIND", "PUT"}
    app = _app(mod)
    app.add_url_rule("/dav", view_func=Dav.as_view("dav"))
    response = app.test_client().open("/dav", method="PROPFIND")
    assert (response.status_code, response.text) == (207, "props")
