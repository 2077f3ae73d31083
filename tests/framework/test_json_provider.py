"""JSON provider and the framework.json helpers, compared with Flask's output."""

from __future__ import annotations

import dataclasses
import decimal
import io
import typing as t
import uuid
from datetime import UTC, date, datetime

import flask
import flask.json.provider as flask_provider
import pytest
from markupsafe import Markup
from werkzeug.wrappers import Response

import framework
import framework.json as fjson
from framework.json.provider import DefaultJSONProvider, JSONProvider


class StubApp:
    """The attributes of an app that a JSON provider uses."""

    response_class = Response

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        self.json = DefaultJSONProvider(self)  # type: ignore[arg-type]


@dataclasses.dataclass
class Point:
    x: int
    y: list[int]


class Html:
    def __html__(self) -> str:
        return "<em>hi</em>"


VALUES: list[t.Any] = [
    None,
    "caf\u00e9 \u2603",
    {"b": 1, "a": [1, 2, {"d": None, "c": True}]},
    [1.5, -2, "x"],
    (1, 2),
    date(2024, 3, 1),
    datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC),
    datetime(2024, 3, 1, 12, 30, 5),
    decimal.Decimal("12.3400"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    Point(1, [2, 3]),
    Markup("<b>x</b>"),
    Html(),
    {"when": date(2000, 1, 1), "items": [Point(0, [])]},
]


# Providers hold their app weakly, as Flask's do: keep the stand-in apps alive.
_apps: list[StubApp] = []


def keep(app: StubApp) -> StubApp:
    _apps.append(app)
    return app


def provider_for(debug: bool = False) -> DefaultJSONProvider:
    app = StubApp(debug)
    _apps.append(app)
    return app.json


def flask_provider_for(debug: bool = False) -> t.Any:
    app = StubApp(debug)
    _apps.append(app)
    return flask_provider.DefaultJSONProvider(app)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_dumps_matches_flask(value: t.Any) -> None:
    ours = provider_for()
    theirs = flask_provider_for()
    assert ours.dumps(value) == theirs.dumps(value)
    assert ours.dumps(value, indent=2) == theirs.dumps(value, indent=2)


def test_dumps_defaults_sort_keys_and_escape_non_ascii() -> None:
    provider = provider_for()
    assert provider.dumps({"b": 1, "a": "\u00e9"}) == '{"a": "\\u00e9", "b": 1}'
    assert provider.dumps({"b": 1, "a": 2}, sort_keys=False) == '{"b": 1, "a": 2}'
    assert provider.dumps("\u00e9", ensure_ascii=False) == '"\u00e9"'


def test_class_attributes_change_output() -> None:
    class Unsorted(DefaultJSONProvider):
        sort_keys = False
        ensure_ascii = False

    provider = Unsorted(keep(StubApp()))  # type: ignore[arg-type]
    assert provider.dumps({"b": "\u00e9", "a": 1}) == '{"b": "\u00e9", "a": 1}'


def test_default_converts_known_types() -> None:
    default = DefaultJSONProvider.default
    assert default(date(2024, 3, 1)) == "Fri, 01 Mar 2024 00:00:00 GMT"
    assert default(decimal.Decimal("1.10")) == "1.10"
    assert default(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert default(Point(1, [2])) == {"x": 1, "y": [2]}
    assert default(Html()) == "<em>hi</em>"


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", complex(1, 2)], ids=repr)
def test_unsupported_type_raises_type_error_like_flask(value: t.Any) -> None:
    with pytest.raises(TypeError) as ours:
        provider_for().dumps(value)
    with pytest.raises(TypeError) as theirs:
        flask_provider_for().dumps(value)
    assert str(ours.value) == str(theirs.value)
    assert f"Object of type {type(value).__name__} is not JSON serializable" == str(ours.value)


def test_default_can_be_extended_in_subclass() -> None:
    class SetProvider(DefaultJSONProvider):
        @staticmethod
        def default(o: t.Any) -> t.Any:
            if isinstance(o, set):
                return sorted(o)
            return DefaultJSONProvider.default(o)

    provider = SetProvider(keep(StubApp()))  # type: ignore[arg-type]
    assert provider.dumps({"s": {3, 1}, "d": date(2000, 1, 1)}) == (
        '{"d": "Sat, 01 Jan 2000 00:00:00 GMT", "s": [1, 3]}'
    )


def test_loads_and_load() -> None:
    provider = provider_for()
    assert provider.loads('{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    assert provider.loads(b'"\xc3\xa9"') == "\u00e9"
    assert provider.load(io.StringIO('{"x": true}')) == {"x": True}


def test_dump_writes_to_file() -> None:
    buffer = io.StringIO()
    provider_for().dump({"b": 1, "a": date(2000, 1, 1)}, buffer)
    assert buffer.getvalue() == '{"a": "Sat, 01 Jan 2000 00:00:00 GMT", "b": 1}'


RESPONSE_CALLS: list[tuple[tuple[t.Any, ...], dict[str, t.Any]]] = [
    ((), {}),
    ((None,), {}),
    (({"b": 1, "a": [1, 2]},), {}),
    (([1, 2],), {}),
    ((1, "two", None), {}),
    ((), {"name": "x", "age": 3}),
    (("caf\u00e9",), {}),
    ((datetime(2024, 1, 1, tzinfo=UTC),), {}),
]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(("args", "kwargs"), RESPONSE_CALLS, ids=repr)
def test_response_matches_flask(
    debug: bool, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]
) -> None:
    ours = provider_for(debug).response(*args, **kwargs)
    theirs = flask_provider_for(debug).response(*args, **kwargs)
    assert ours.get_data() == theirs.get_data()
    assert ours.mimetype == theirs.mimetype == "application/json"
    assert ours.status_code == 200
    assert ours.get_data(as_text=True).endswith("\n")


def test_response_compact_and_pretty() -> None:
    assert provider_for().response(a=[1, 2]).get_data() == b'{"a":[1,2]}\n'
    assert provider_for(debug=True).response(a=[1, 2]).get_data() == (
        b'{\n  "a": [\n    1,\n    2\n  ]\n}\n'
    )
    assert provider_for().response().get_data() == b"null\n"
    assert provider_for().response(1, 2).get_data() == b"[1,2]\n"


@pytest.mark.parametrize("compact", [True, False])
@pytest.mark.parametrize("debug", [False, True])
def test_compact_overrides_debug(compact: bool, debug: bool) -> None:
    ours = provider_for(debug)
    theirs = flask_provider_for(debug)
    ours.compact = compact
    theirs.compact = compact
    body = ours.response({"a": {"b": 1}}).get_data()
    assert body == theirs.response({"a": {"b": 1}}).get_data()
    assert (b"\n  " not in body) is compact


def test_response_mimetype_attribute() -> None:
    provider = provider_for()
    provider.mimetype = "application/vnd.api+json"
    assert provider.response([]).mimetype == "application/vnd.api+json"


def test_response_rejects_args_and_kwargs() -> None:
    with pytest.raises(TypeError, match="takes either args or kwargs, not both"):
        provider_for().response(1, a=2)


class ReprProvider(JSONProvider):
    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        return f"<{obj!r}>"

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        return f"loaded {s!r}"


def test_base_provider_builds_on_dumps_and_loads() -> None:
    provider = ReprProvider(keep(StubApp()))  # type: ignore[arg-type]
    buffer = io.StringIO()
    provider.dump([1], buffer)
    assert buffer.getvalue() == "<[1]>"
    assert provider.load(io.StringIO("x")) == "loaded 'x'"
    response = provider.response(1, 2)
    assert response.get_data() == b"<[1, 2]>"
    assert response.mimetype == "application/json"


def test_base_provider_requires_dumps_and_loads() -> None:
    provider = JSONProvider(keep(StubApp()))  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError):
        provider.dumps(1)
    with pytest.raises(NotImplementedError):
        provider.loads("1")


# framework.json module functions


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_module_dumps_without_app_matches_flask(value: t.Any) -> None:
    assert fjson.dumps(value) == flask.json.dumps(value)
    buffer = io.StringIO()
    fjson.dump(value, buffer)
    assert buffer.getvalue() == fjson.dumps(value)


def test_module_functions_without_app_use_stdlib_json() -> None:
    # Insertion order is kept: only an app's provider sorts keys.
    assert fjson.dumps({"b": 1, "a": date(2000, 1, 1)}) == (
        '{"b": 1, "a": "Sat, 01 Jan 2000 00:00:00 GMT"}'
    )
    assert fjson.loads('{"a": 1}') == {"a": 1}
    assert fjson.load(io.StringIO("[1]")) == [1]


def test_module_functions_use_current_app_provider() -> None:
    class Marker(DefaultJSONProvider):
        def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
            return "marked:" + super().dumps(obj, **kwargs)

        def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
            return ("marked", super().loads(s, **kwargs))

    app = framework.Flask(__name__)
    app.json = Marker(app)
    with app.app_context():
        assert fjson.dumps({"b": 1, "a": 2}) == 'marked:{"a": 2, "b": 1}'
        assert fjson.loads("1") == ("marked", 1)
        assert fjson.load(io.StringIO("2")) == ("marked", 2)
        buffer = io.StringIO()
        fjson.dump([1], buffer)
        assert buffer.getvalue() == "marked:[1]"
        response = fjson.jsonify(x=1)
        assert response.get_data() == b'marked:{"x":1}\n'
    assert fjson.dumps({"b": 1, "a": 2}) == '{"b": 1, "a": 2}'


@pytest.mark.parametrize(("args", "kwargs"), RESPONSE_CALLS, ids=repr)
def test_jsonify_matches_flask(args: tuple[t.Any, ...], kwargs: dict[str, t.Any]) -> None:
    with framework.Flask(__name__).app_context():
        ours = fjson.jsonify(*args, **kwargs)
    with flask.Flask(__name__).app_context():
        theirs = flask.jsonify(*args, **kwargs)
    assert ours.get_data() == theirs.get_data()
    assert ours.mimetype == theirs.mimetype


def test_jsonify_needs_app_context() -> None:
    with pytest.raises(RuntimeError, match="application context"):
        fjson.jsonify(1)


def test_module_dumps_in_app_context_matches_flask() -> None:
    value = {"b": [1, date(2000, 1, 1)], "a": "\u00e9"}
    with framework.Flask(__name__).app_context():
        ours = fjson.dumps(value)
    with flask.Flask(__name__).app_context():
        theirs = flask.json.dumps(value)
    assert ours == theirs == '{"a": "\\u00e9", "b": [1, "Sat, 01 Jan 2000 00:00:00 GMT"]}'


def make_json_apps(debug: bool) -> list[t.Any]:
    apps = []
    for module in (flask, framework):
        app = module.Flask(__name__)
        app.debug = debug
        jsonify = module.jsonify

        @app.route("/<kind>")
        def view(kind: str, jsonify: t.Any = jsonify) -> t.Any:
            if kind == "dict":
                return {"z": 1, "a": [Point(1, [2])]}
            if kind == "list":
                return [1, "\u2603", None]
            if kind == "args":
                return jsonify(1, 2, 3)
            if kind == "kwargs":
                return jsonify(b=date(2020, 2, 2), a=decimal.Decimal("1.5"))
            return jsonify()

        apps.append(app)
    return apps


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("kind", ["dict", "list", "args", "kwargs", "none"])
def test_views_returning_json_match_flask(debug: bool, kind: str) -> None:
    results = []
    for app in make_json_apps(debug):
        response = app.test_client().get(f"/{kind}")
        results.append((response.status_code, response.content_type, response.get_data()))
    assert results[0] == results[1]
    assert results[1][1] == "application/json"


def test_app_json_compact_setting_in_views() -> None:
    _, app = make_json_apps(debug=True)
    app.json.compact = True
    assert app.test_client().get("/args").get_data() == b"[1,2,3]\n"
