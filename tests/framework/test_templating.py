"""Templates: every scenario runs on our framework and on Flask with the same expectations."""

from __future__ import annotations

import datetime
import importlib
import logging
import os
import types
import typing as t
import uuid

import jinja2
import pytest
from markupsafe import Markup

SITE = os.path.join(os.path.dirname(__file__), "apps", "site")


@pytest.fixture(params=["framework", "flask"])
def mod(request: pytest.FixtureRequest) -> types.ModuleType:
    # Running every scenario on Flask too shows the expectations are Flask's behaviour.
    return importlib.import_module(request.param)


def _app(mod: types.ModuleType, **kwargs: t.Any) -> t.Any:
    kwargs.setdefault("root_path", SITE)
    app = mod.Flask(f"tpl_{mod.__name__}", **kwargs)
    app.secret_key = "test secret"
    return app


# -- rendering -------------------------------------------------------------------------------


def test_render_template_and_render_template_string(mod: types.ModuleType) -> None:
    app = _app(mod)

    @app.route("/file")
    def file() -> str:
        return mod.render_template("shared.html", value="<b>")

    @app.route("/string")
    def string() -> str:
        return mod.render_template_string("{{ value }}|{{ safe }}", value="<b>", safe=Markup("<i>"))

    @app.route("/list")
    def first_existing() -> str:
        return mod.render_template(["missing.html", "shared.html"], value=1)

    @app.route("/object")
    def template_object() -> str:
        template = mod.current_app.jinja_env.from_string("obj {{ value }}")
        return mod.render_template(template, value=2)

    client = app.test_client()
    resp = client.get("/file")
    assert resp.text == "app says &lt;b&gt;"
    assert resp.mimetype == "text/html"
    assert client.get("/string").text == "&lt;b&gt;|<i>"
    assert client.get("/list").text == "app says 1"
    assert client.get("/object").text == "obj 2"


@pytest.mark.parametrize(
    ("extension", "escaped"),
    [
        ("html", True),
        ("htm", True),
        ("xml", True),
        ("xhtml", True),
        ("svg", True),
        ("txt", False),
    ],
)
def test_autoescape_by_file_extension(mod: types.ModuleType, extension: str, escaped: bool) -> None:
    app = _app(mod)
    with app.app_context():
        rv = mod.render_template(f"escape.{extension}", value="<a & b>")
    assert rv == ("&lt;a &amp; b&gt;" if escaped else "<a & b>")
    assert app.select_jinja_autoescape(f"x.{extension}") is escaped
    assert app.select_jinja_autoescape(None) is True


def test_autoescape_can_be_turned_off_in_a_template(mod: types.ModuleType) -> None:
    app = _app(mod)
    with app.app_context():
        rv = mod.render_template_string(
            "{% autoescape false %}{{ v }}{% endautoescape %} {{ v }} {{ v|safe }}", v="<x>"
        )
    assert rv == "<x> &lt;x&gt; <x>"


def test_stream_template_in_a_view_sees_the_request(mod: types.ModuleType) -> None:
    app = _app(mod)

    @app.route("/stream")
    def stream() -> t.Any:
        return mod.stream_template("stream.html", items=["a", "<b>"])

    @app.route("/stream-string")
    def stream_string() -> t.Any:
        return app.response_class(
            mod.stream_template_string(
                "{% for i in items %}{{ i }}{{ request.args.sep }}{% endfor %}", items=[1, 2]
            ),
            mimetype="text/plain",
        )

    client = app.test_client()
    resp = client.get("/stream?sep=;")
    assert resp.is_streamed
    assert resp.text == "<a:;><&lt;b&gt;:;>"
    resp = client.get("/stream-string?sep=,")
    assert resp.text == "1,2,"
    assert resp.mimetype == "text/plain"


def test_stream_template_outside_a_request_yields_pieces(mod: types.ModuleType) -> None:
    app = _app(mod)
    with app.app_context():
        pieces = mod.stream_template_string("{% for i in items %}{{ i }}{% endfor %}", items="ab")
        assert not isinstance(pieces, str)
        assert "".join(pieces) == "ab"


def test_templating_module_names(mod: types.ModuleType) -> None:
    templating = importlib.import_module(f"{mod.__name__}.templating")
    app = _app(mod)
    assert issubclass(templating.Environment, jinja2.Environment)
    assert issubclass(templating.DispatchingJinjaLoader, jinja2.BaseLoader)
    assert app.jinja_environment is templating.Environment
    assert type(app.jinja_env) is templating.Environment
    assert app.jinja_env.app is app
    assert isinstance(app.jinja_env.loader, templating.DispatchingJinjaLoader)
    assert isinstance(app.create_global_jinja_loader(), templating.DispatchingJinjaLoader)
    assert isinstance(app.jinja_loader, jinja2.FileSystemLoader)
    assert templating.render_template is mod.render_template


# -- what templates can see ------------------------------------------------------------------


def test_url_for_config_request_session_g_and_flashes_in_templates(
    mod: types.ModuleType,
) -> None:
    app = _app(mod)
    app.config["GREETING"] = "hi <you>"

    @app.route("/")
    def index() -> str:
        mod.g.who = "gee"
        return mod.render_template("globals.html")

    @app.route("/login")
    def login() -> str:
        mod.session["user"] = "ann"
        mod.flash("welcome")
        return "ok"

    client = app.test_client()
    assert client.get("/").text == "/|hi &lt;you&gt;|/|None|gee|[]"
    client.get("/login")
    assert client.get("/").text == "/|hi &lt;you&gt;|/|ann|gee|[&#39;welcome&#39;]"
    assert client.get("/").text == "/|hi &lt;you&gt;|/|ann|gee|[]"


def test_globals_in_imported_macros_and_outside_requests(mod: types.ModuleType) -> None:
    app = _app(mod)
    app.config["SERVER_NAME"] = "example.test"
    app.add_url_rule("/page", "page", lambda: "page")
    with app.app_context():
        mod.g.x = 5
        assert mod.render_template_string("{{ url_for('page') }} {{ g.x }}") == (
            "http://example.test/page 5"
        )
        # Globals reach templates imported without context, e.g. macro libraries.
        app.jinja_env.loader = jinja2.ChoiceLoader(
            [
                jinja2.DictLoader(
                    {"lib.html": "{% macro m() %}{{ config.SERVER_NAME }}{% endmacro %}"}
                ),
                app.jinja_env.loader,
            ]
        )
        assert mod.render_template_string("{% import 'lib.html' as lib %}{{ lib.m() }}") == (
            "example.test"
        )


def test_context_processors_app_and_blueprint_scoped(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__, url_prefix="/bp")
    template = "{{ site }} {{ section|default('-') }} {{ user }}"

    @app.context_processor
    def app_values() -> dict[str, t.Any]:
        return {"site": "app-site", "user": "app-user", "section": "app-section"}

    @bp.context_processor
    def bp_values() -> dict[str, t.Any]:
        return {"section": "bp-section", "user": "bp-user"}

    @bp.route("/")
    def bp_view() -> str:
        return mod.render_template_string(template)

    @bp.route("/explicit")
    def explicit() -> str:
        return mod.render_template_string(template, user="explicit", site="mine")

    @app.route("/")
    def app_view() -> str:
        return mod.render_template_string(template)

    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/bp/").text == "app-site bp-section bp-user"
    assert client.get("/bp/explicit").text == "mine bp-section explicit"
    assert client.get("/").text == "app-site app-section app-user"


def test_nested_blueprint_context_processors_inner_wins(mod: types.ModuleType) -> None:
    app = _app(mod)
    outer = mod.Blueprint("outer", __name__)
    inner = mod.Blueprint("inner", __name__)
    outer.context_processor(lambda: {"a": "outer", "b": "outer"})
    inner.context_processor(lambda: {"a": "inner"})
    inner.add_url_rule("/", "v", lambda: mod.render_template_string("{{ a }} {{ b }}"))
    outer.register_blueprint(inner)
    app.register_blueprint(outer)
    assert app.test_client().get("/").text == "inner outer"


def test_update_template_context_keeps_explicit_values(mod: types.ModuleType) -> None:
    app = _app(mod)
    app.context_processor(lambda: {"x": "processor", "y": "processor"})
    with app.test_request_context("/"):
        context = {"x": "explicit"}
        app.update_template_context(context)
        assert context["x"] == "explicit"
        assert context["y"] == "processor"
        assert context["request"] is mod.request._get_current_object()
        assert context["g"] is mod.g._get_current_object()


def test_template_filters_tests_and_globals(mod: types.ModuleType) -> None:
    app = _app(mod)

    @app.template_filter()
    def double(s: str) -> str:
        return s * 2

    @app.template_filter("rev")
    def reverse(s: str) -> str:
        return s[::-1]

    app.add_template_filter(str.upper)
    app.add_template_filter(lambda s: f"[{s}]", "bracket")

    @app.template_test()
    def odd(n: int) -> bool:
        return n % 2 == 1

    @app.template_test("big")
    def is_big(n: int) -> bool:
        return n > 100

    app.add_template_test(lambda n: n == 0, "zero")

    @app.template_global()
    def greet(name: str) -> str:
        return f"hi {name}"

    @app.template_global("pi")
    def get_pi() -> float:
        return 3.14

    app.add_template_global(lambda: "added", "added")
    assert app.jinja_env.filters["double"] is double
    assert app.jinja_env.tests["odd"] is odd
    assert app.jinja_env.globals["greet"] is greet
    with app.app_context():
        rv = mod.render_template_string(
            "{{ 'ab'|double }} {{ 'ab'|rev }} {{ 'ab'|upper }} {{ 'ab'|bracket }} "
            "{{ 3 is odd }} {{ 300 is big }} {{ 0 is zero }} {{ greet('x') }} {{ pi() }} "
            "{{ added() }}"
        )
    assert rv == "abab ba AB [ab] True True True hi x 3.14 added"


TOJSON_VALUES: list[t.Any] = [
    {"b": 1, "a": [1, 2.5, None, True], "html": "<script>alert('x') & \"y\"</script>"},
    "</script>",
    "it's",
    datetime.datetime(2024, 5, 6, 7, 8, 9),
    datetime.date(2024, 5, 6),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    Markup("<em>m</em>"),
    "\u2028 ünïcode",
]


def test_tojson_filter_matches_flask() -> None:
    import flask

    import framework

    outputs = []
    for module in (framework, flask):
        app = _app(module)
        with app.app_context():
            outputs.append(
                [
                    module.render_template_string(
                        "<script>var v = {{ v|tojson }};</script><a data-v='{{ v|tojson }}'>",
                        v=value,
                    )
                    for value in TOJSON_VALUES
                ]
            )
    assert outputs[0] == outputs[1]
    assert "\\u003c/script\\u003e" in outputs[0][1]
    assert "\\u0027" in outputs[0][2]


def test_tojson_uses_the_app_json_provider(mod: types.ModuleType) -> None:
    class Point:
        def __init__(self, x: int, y: int) -> None:
            self.x, self.y = x, y

    def default(o: t.Any) -> t.Any:
        if isinstance(o, Point):
            return [o.x, o.y]
        raise TypeError(f"not JSON: {o!r}")

    app = _app(mod)
    app.json.default = default
    with app.app_context():
        assert mod.render_template_string("{{ v|tojson }}", v={"p": Point(1, 2)}) == (
            '{"p": [1, 2]}'
        )


# -- reloading, explain, environment options -------------------------------------------------


def _write(path: t.Any, text: str, bump: int) -> None:
    path.write_text(text)
    # A distinct, later mtime so the reload check cannot miss the change.
    stamp = 1_700_000_000 + bump
    os.utime(path, (stamp, stamp))


def _reload_app(mod: types.ModuleType, tmp_path: t.Any, **config: t.Any) -> tuple[t.Any, t.Any]:
    (tmp_path / "templates").mkdir()
    page = tmp_path / "templates" / "page.txt"
    _write(page, "old", 0)
    app = mod.Flask("reload", root_path=str(tmp_path))
    app.config.update(config)
    return app, page


@pytest.mark.parametrize(
    ("setting", "debug", "reloaded"),
    [
        (True, False, True),
        (False, True, False),
        (None, True, True),
        (None, False, False),
    ],
)
def test_templates_auto_reload(
    mod: types.ModuleType,
    tmp_path: t.Any,
    setting: bool | None,
    debug: bool,
    reloaded: bool,
) -> None:
    app, page = _reload_app(mod, tmp_path, TEMPLATES_AUTO_RELOAD=setting, DEBUG=debug)
    with app.app_context():
        assert mod.render_template("page.txt") == "old"
        assert app.jinja_env.auto_reload is reloaded
        _write(page, "new", 10)
        assert mod.render_template("page.txt") == ("new" if reloaded else "old")


def test_auto_reload_follows_debug_set_later(mod: types.ModuleType, tmp_path: t.Any) -> None:
    app, page = _reload_app(mod, tmp_path)
    assert app.jinja_env.auto_reload is False
    app.debug = True
    assert app.jinja_env.auto_reload is True
    with app.app_context():
        assert mod.render_template("page.txt") == "old"
        _write(page, "new", 10)
        assert mod.render_template("page.txt") == "new"
    app.debug = False
    assert app.jinja_env.auto_reload is False
    # An explicit TEMPLATES_AUTO_RELOAD is not overridden by debug.
    (tmp_path / "fixed").mkdir()
    app, _ = _reload_app(mod, tmp_path / "fixed", TEMPLATES_AUTO_RELOAD=False)
    app.debug = True
    assert app.jinja_env.auto_reload is False


def test_explain_template_loading_logs_the_attempts(
    mod: types.ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(mod)
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    admin = mod.Blueprint(
        "admin", __name__, root_path=os.path.join(SITE, "admin"), template_folder="templates"
    )

    @admin.route("/admin/missing")
    def missing() -> str:
        return mod.render_template("missing.html")

    app.register_blueprint(admin)
    app.testing = False
    with caplog.at_level(logging.INFO, logger=app.name):
        with app.test_request_context("/"):
            assert mod.render_template("shared.html", value=1) == "app says 1"
            assert mod.render_template("escape.txt", value="<") == "<"
        found = [r.getMessage() for r in caplog.records]
        caplog.clear()
        assert app.test_client().get("/admin/missing").status_code == 500
        missed = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]

    assert len(found) == 2
    shared, only = found
    assert shared.startswith("Locating template 'shared.html':")
    assert f"1: trying loader of application '{app.name}'" in shared
    assert "trying loader of blueprint 'admin'" in shared
    assert repr(os.path.join(SITE, "templates", "shared.html")) in shared
    assert repr(os.path.join(SITE, "admin", "templates", "shared.html")) in shared
    assert "Warning: multiple loaders returned a match for the template." in shared
    assert "-> no match" in only
    assert "Warning" not in only
    assert len(missed) == 1
    assert "Error: the template could not be found." in missed[0]
    # Flask's key phrase, which tests match with pytest.raises/caplog, then our advice.
    assert (
        "looked up from an endpoint that belongs to the blueprint 'admin'"
        in missed[0].rpartition("found.")[2]
    )


def test_no_explanation_logged_by_default(
    mod: types.ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(mod)
    with caplog.at_level(logging.DEBUG, logger=app.name), app.app_context():
        mod.render_template("shared.html")
    assert caplog.records == []


def test_jinja_options_and_environment_overrides(mod: types.ModuleType) -> None:
    class LineApp(mod.Flask):  # type: ignore[misc,name-defined]
        jinja_options = {"line_statement_prefix": "%", "trim_blocks": True}

    app = LineApp("opts", root_path=SITE)
    with app.app_context():
        assert mod.render_template_string("% for i in 'ab'\n{{ i }}\n% endfor\n") == "a\nb\n"
        # autoescape and reloading are still decided by the app.
        assert mod.render_template_string("{{ '<' }}") == "&lt;"

    class CustomEnv(importlib.import_module(f"{mod.__name__}.templating").Environment):  # type: ignore[misc]
        pass

    class EnvApp(mod.Flask):  # type: ignore[misc,name-defined]
        jinja_environment = CustomEnv

        def create_jinja_environment(self) -> t.Any:
            env = super().create_jinja_environment()
            env.globals["brand"] = "Acme"
            return env

    app = EnvApp("env", root_path=SITE)
    app.config["SERVER_NAME"] = "example.test"
    app.add_url_rule("/x", "x", lambda: "x")
    assert type(app.jinja_env) is CustomEnv
    with app.app_context():
        assert mod.render_template_string("{{ brand }} {{ url_for('x') }}") == (
            "Acme http://example.test/x"
        )

    class NoEscape(mod.Flask):  # type: ignore[misc,name-defined]
        jinja_options = {"autoescape": False}

    with NoEscape("ne", root_path=SITE).app_context():
        assert mod.render_template("escape.html", value="<x>") == "<x>"


def test_jinja_env_is_created_once_and_filters_registered_late_apply(
    mod: types.ModuleType,
) -> None:
    app = _app(mod)
    env = app.jinja_env
    assert app.jinja_env is env
    app.add_template_filter(lambda s: "late", "late")
    with app.app_context():
        assert mod.render_template_string("{{ 1|late }}") == "late"


# -- signals, macros, errors -----------------------------------------------------------------


def test_template_signals_carry_template_and_context(mod: types.ModuleType) -> None:
    app = _app(mod)
    events: list[tuple[str, t.Any, str | None, dict[str, t.Any]]] = []

    def before(sender: t.Any, template: t.Any, context: dict[str, t.Any], **kw: t.Any) -> None:
        context["injected"] = "by signal"
        events.append(("before", sender, template.name, dict(context)))

    def rendered(sender: t.Any, template: t.Any, context: dict[str, t.Any], **kw: t.Any) -> None:
        events.append(("rendered", sender, template.name, dict(context)))

    @app.route("/")
    def index() -> str:
        return mod.render_template("shared.html", value="v")

    @app.route("/inject")
    def inject() -> str:
        return mod.render_template_string("{{ injected }}")

    @app.route("/stream")
    def stream() -> t.Any:
        return mod.stream_template("stream.html", items=[1])

    with (
        mod.before_render_template.connected_to(before, app),
        mod.template_rendered.connected_to(rendered, app),
    ):
        client = app.test_client()
        client.get("/")
        assert [(e[0], e[2]) for e in events] == [
            ("before", "shared.html"),
            ("rendered", "shared.html"),
        ]
        _, sender, _, context = events[1]
        assert sender is app
        assert context["value"] == "v"
        assert context["injected"] == "by signal"
        assert set(context) == {"value", "injected", "g", "request"}
        events.clear()
        assert client.get("/inject").text == "by signal"
        events.clear()
        assert client.get("/stream").text == "<1:->"
        assert [(e[0], e[2]) for e in events] == [
            ("before", "stream.html"),
            ("rendered", "stream.html"),
        ]

    events.clear()
    client.get("/")
    assert events == []
    # A receiver for another app hears nothing.
    other = _app(mod)
    with mod.template_rendered.connected_to(rendered, other):
        client.get("/")
    assert events == []


def test_signals_of_both_modules_are_independent() -> None:
    import flask

    import framework

    heard: list[str] = []
    app = _app(framework)

    def receiver(sender: t.Any, **kw: t.Any) -> None:
        heard.append("x")

    with flask.template_rendered.connected_to(receiver), app.app_context():
        framework.render_template_string("x")
    assert heard == []


def test_get_template_attribute_calls_a_macro(mod: types.ModuleType) -> None:
    app = _app(mod)
    with app.app_context():
        hello = mod.get_template_attribute("macros.html", "hello")
        assert hello("<World>") == Markup("Hello &lt;World&gt;!")
        assert mod.get_template_attribute("macros.html", "answer") == 42
        with pytest.raises(AttributeError):
            mod.get_template_attribute("macros.html", "nope")


def test_missing_templates_raise_template_not_found(mod: types.ModuleType) -> None:
    app = _app(mod)

    @app.route("/")
    def index() -> str:
        return mod.render_template("missing.html")

    with app.app_context():
        with pytest.raises(jinja2.TemplateNotFound) as info:
            mod.render_template("missing.html")
        assert info.value.name == "missing.html"
        with pytest.raises(jinja2.TemplatesNotFound):
            mod.render_template(["missing.html", "also-missing.html"])
        with pytest.raises(jinja2.TemplateNotFound):
            mod.stream_template("missing.html")
        with pytest.raises(jinja2.TemplateNotFound):
            mod.get_template_attribute("missing.html", "x")
    app.testing = True
    with pytest.raises(jinja2.TemplateNotFound):
        app.test_client().get("/")
    app.testing = False
    assert app.test_client().get("/").status_code == 500


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.render_template("shared.html"),
        lambda m: m.render_template_string("x"),
        lambda m: m.stream_template("shared.html"),
        lambda m: m.stream_template_string("x"),
        lambda m: m.get_template_attribute("macros.html", "hello"),
    ],
)
def test_rendering_outside_an_app_context_is_a_runtime_error(
    mod: types.ModuleType, call: t.Callable[[types.ModuleType], t.Any]
) -> None:
    with pytest.raises(RuntimeError, match="application context"):
        call(mod)


def test_template_errors_propagate(mod: types.ModuleType) -> None:
    app = _app(mod)
    with app.app_context():
        with pytest.raises(jinja2.TemplateSyntaxError):
            mod.render_template_string("{% if %}")
        with pytest.raises(ZeroDivisionError):
            mod.render_template_string("{{ 1 / 0 }}")
        assert mod.render_template_string("[{{ missing }}]") == "[]"


def test_async_context_processor(mod: types.ModuleType) -> None:
    pytest.importorskip("asgiref")
    app = _app(mod)

    @app.context_processor
    async def values() -> dict[str, str]:
        return {"a": "from async"}

    with app.test_request_context("/"):
        assert mod.render_template_string("{{ a }}") == "from async"


def test_default_context_processor_is_listed_first(mod: types.ModuleType) -> None:
    app = _app(mod)
    (default,) = app.template_context_processors[None]
    assert default() == {}
    with app.app_context():
        assert default() == {"g": mod.g._get_current_object()}
    with app.test_request_context("/"):
        assert set(default()) == {"g", "request"}
    # Removing it leaves g and request reachable as globals, just not in the context.
    app.template_context_processors[None].clear()
    seen: list[set[str]] = []
    with (
        mod.template_rendered.connected_to(lambda s, **kw: seen.append(set(kw["context"])), app),
        app.test_request_context("/?q=1"),
    ):
        assert mod.render_template_string("{{ request.args.q }}") == "1"
    assert seen == [set()]
