"""The application object: default config, public names, attributes and ``run()`` options."""

from __future__ import annotations

import types
import typing as t
from datetime import timedelta

import flask
import pytest
import werkzeug.serving
import werkzeug.test

import framework

from ._parity import mod_fixture

mod = mod_fixture()


def test_default_config_matches_flask() -> None:
    ours = framework.Flask.default_config
    theirs = flask.Flask.default_config
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        assert ours[key] == value, key
        assert type(ours[key]) is type(value), key


def test_new_app_config_matches_flask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    ours = dict(framework.Flask(__name__).config)
    theirs = dict(flask.Flask(__name__).config)
    assert ours == theirs
    assert ours["DEBUG"] is False


def test_flask_debug_environment_variable(
    mod: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    assert mod.Flask(__name__).debug is True
    monkeypatch.setenv("FLASK_DEBUG", "false")
    assert mod.Flask(__name__).debug is False


def _public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    }


def test_public_names_match_flask() -> None:
    assert _public_names(flask) - _public_names(framework) == set()


def test_config_attributes(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    app.testing = True
    assert app.config["TESTING"] is True
    app.secret_key = "s"
    assert app.config["SECRET_KEY"] == "s"
    app.debug = True
    assert app.config["DEBUG"] is True
    app.config["PERMANENT_SESSION_LIFETIME"] = 60
    assert app.permanent_session_lifetime == timedelta(seconds=60)
    app.permanent_session_lifetime = timedelta(hours=1)
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=1)


def test_app_identity(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    assert app.name == __name__
    assert app.import_name == __name__
    assert repr(app) == f"<Flask '{__name__}'>"
    assert app.static_url_path == "/static"
    assert app.url_map.host_matching is False
    assert app.logger.name == __name__
    assert isinstance(app.config, mod.Config)
    assert app.url_map.strict_slashes is True
    assert app.response_class is mod.Response
    assert app.request_class is mod.Request


def test_instance_path_must_be_absolute(mod: types.ModuleType) -> None:
    with pytest.raises(ValueError):
        mod.Flask(__name__, instance_path="relative/path")


def test_static_host_requires_host_matching(mod: types.ModuleType) -> None:
    with pytest.raises(AssertionError if mod is flask else (AssertionError, ValueError)):
        mod.Flask(__name__, static_host="static.test")


def _run_options(
    mod: types.ModuleType, monkeypatch: pytest.MonkeyPatch, *args: t.Any, **kwargs: t.Any
) -> tuple[t.Any, ...]:
    captured: list[tuple[t.Any, ...]] = []

    def fake_run_simple(host: str, port: int, app: t.Any, **options: t.Any) -> None:
        captured.append((host, port, app, options))

    monkeypatch.setattr(werkzeug.serving, "run_simple", fake_run_simple)
    config = kwargs.pop("config", {})
    app = mod.Flask(__name__)
    app.config.update(config)
    app.run(*args, load_dotenv=False, **kwargs)
    assert len(captured) == 1
    host, port, served, options = captured[0]
    assert served is app
    return host, port, options, app.debug


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        (("0.0.0.0", 8080), {}),
        ((), {"port": "8081"}),
        ((), {"port": 0}),
        ((), {"debug": True}),
        ((), {"debug": True, "use_reloader": False}),
        ((), {"debug": False, "threaded": False, "use_debugger": True}),
        ((), {"config": {"SERVER_NAME": "served.test:9000"}}),
        ((), {"config": {"SERVER_NAME": "served.test"}}),
        (("127.0.0.2", 7000), {"config": {"SERVER_NAME": "served.test:9000"}}),
        ((), {"config": {"DEBUG": True}}),
    ],
)
def test_run_passes_the_same_options_as_flask(
    monkeypatch: pytest.MonkeyPatch, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]
) -> None:
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    ours = _run_options(framework, monkeypatch, *args, **dict(kwargs))
    theirs = _run_options(flask, monkeypatch, *args, **dict(kwargs))
    assert ours == theirs


def test_run_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    host, port, options, debug = _run_options(framework, monkeypatch)
    assert (host, port, debug) == ("127.0.0.1", 5000, False)
    assert options == {"use_reloader": False, "use_debugger": False, "threaded": True}
    host, port, options, debug = _run_options(framework, monkeypatch, debug=True)
    assert debug is True
    assert options["use_reloader"] is True
    assert options["use_debugger"] is True


def test_run_from_cli_does_not_start_a_server(
    mod: types.ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[t.Any] = []
    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda *a, **k: started.append(a))
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    mod.Flask(__name__).run(load_dotenv=False)
    assert started == []
    # The explanation goes to stdout, as Flask prints it.
    assert "app.run()" in capsys.readouterr().out


def test_wsgi_call_goes_through_wsgi_app(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    app.add_url_rule("/", "index", lambda: "via __call__")
    statuses: list[str] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
    ) -> t.Any:
        statuses.append(status)
        return lambda data: None

    environ = werkzeug.test.EnvironBuilder("/").get_environ()
    body = b"".join(app(environ, start_response))
    assert body == b"via __call__"
    assert statuses == ["200 OK"]
