"""The ``framework`` command line: app discovery, options, dotenv files, shell, app commands."""

from __future__ import annotations

import os
import re
import sys
import textwrap
import types
import typing as t
from importlib import metadata
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import framework
from framework import Flask, current_app
from framework.cli import (
    AppGroup,
    FlaskGroup,
    NoAppException,
    ScriptInfo,
    cli,
    find_app_by_string,
    find_best_app,
    load_dotenv,
    locate_app,
    main,
    prepare_import,
    with_appcontext,
)
from framework.ctx import has_app_context
from framework.testing import FlaskCliRunner

from ._cli_support import Workspace

HELLO = """\
    import click
    from framework import Flask, current_app

    app = Flask(__name__)

    @app.route("/")
    def index():
        return "hi"

    @app.cli.command("greet")
    def greet():
        \"\"\"Say hello.\"\"\"
        click.echo(f"hello from {current_app.name}")

    @app.cli.command("info")
    def info():
        import os
        click.echo(f"debug={current_app.debug} env={os.environ.get('FLASK_DEBUG')}")
"""


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> t.Iterator[Workspace]:
    workspace = Workspace(tmp_path, monkeypatch)
    yield workspace
    workspace.close()


def invoke(args: list[str], group: click.Command = cli, **kwargs: t.Any) -> Result:
    return CliRunner().invoke(group, args, **kwargs)


# -- --version, --help, command listing -----------------------------------------------------


def test_version_prints_python_framework_and_werkzeug(ws: Workspace) -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"Python {sys.version.split()[0]}"
    assert lines[1] == f"framework {framework.__version__}"
    assert lines[2] == f"Werkzeug {metadata.version('werkzeug')}"


def test_main_runs_the_cli_group(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["framework", "--version"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 0


def test_help_without_app_lists_builtin_commands_only(ws: Workspace) -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    assert "Usage: framework [OPTIONS] COMMAND [ARGS]..." in result.stdout
    for name in ("routes", "run", "shell", "--app", "--env-file", "--debug / --no-debug"):
        assert name in result.stdout
    assert result.stderr == ""


def test_help_loads_the_app_and_lists_its_commands(ws: Workspace) -> None:
    ws.write("hello.py", HELLO)
    result = invoke(["--app", "hello", "--help"])
    assert result.exit_code == 0
    assert re.search(r"^  greet +Say hello\.$", result.stdout, re.MULTILINE)
    assert result.stderr == ""


def test_no_arguments_shows_help_with_app_commands(ws: Workspace) -> None:
    ws.write("hello.py", HELLO)
    result = invoke([], env={"FLASK_APP": "hello"})
    assert result.exit_code == 2
    assert "greet" in result.output
    assert "Usage:" in result.output


def test_help_shows_import_error_but_still_lists(ws: Workspace) -> None:
    result = invoke(["--app", "not_a_module_zz", "--help"])
    assert result.exit_code == 0
    assert "Error: Could not import 'not_a_module_zz'." in result.stderr
    assert "routes" in result.stdout


def test_help_shows_traceback_of_a_crashing_factory(ws: Workspace) -> None:
    ws.write(
        "crash.py",
        """\
        def create_app():
            raise RuntimeError("factory exploded")
        """,
    )
    result = invoke(["--app", "crash", "--help"])
    assert result.exit_code == 0
    assert "Traceback" in result.stderr
    assert "RuntimeError: factory exploded" in result.stderr
    assert "shell" in result.stdout


def test_app_command_runs_in_app_context(ws: Workspace) -> None:
    ws.write("hello.py", HELLO)
    result = invoke(["--app", "hello", "greet"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello from hello\n"


def test_unknown_command_reports_load_error_and_no_such_command(ws: Workspace) -> None:
    result = invoke(["--app", "not_a_module_zz", "greet"])
    assert result.exit_code == 2
    assert "Could not import 'not_a_module_zz'" in result.stderr
    assert "No such command 'greet'" in result.stderr


def test_plain_click_command_on_app_cli_gets_app_context(ws: Workspace) -> None:
    ws.write(
        "plain.py",
        """\
        import click
        from framework import Flask, current_app

        app = Flask(__name__)

        @click.command("plain")
        def plain():
            click.echo(current_app.name)

        app.cli.add_command(plain)
        """,
    )
    result = invoke(["--app", "plain", "plain"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "plain\n"


# -- --debug and FLASK_DEBUG ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, "debug=False env=None"),
        (["--debug"], {}, "debug=True env=1"),
        (["--no-debug"], {"FLASK_DEBUG": "1"}, "debug=False env=0"),
        ([], {"FLASK_DEBUG": "1"}, "debug=True env=1"),
    ],
)
def test_debug_flag(ws: Workspace, args: list[str], env: dict[str, str], expected: str) -> None:
    ws.write("hello.py", HELLO)
    result = invoke(["--app", "hello", *args, "info"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == expected


def test_debug_follows_flag_not_module_config(ws: Workspace) -> None:
    ws.write("hello.py", textwrap.dedent(HELLO) + "app.config['DEBUG'] = True\n")
    assert invoke(["--app", "hello", "info"]).stdout.strip() == "debug=False env=None"


def test_set_debug_flag_false_keeps_app_setting(ws: Workspace) -> None:
    app = Flask("keepdebug")
    app.debug = True
    group = FlaskGroup(create_app=lambda: app, set_debug_flag=False)

    @group.command()
    def show() -> None:
        click.echo(str(current_app.debug))

    assert invoke(["show"], group).stdout == "True\n"


# -- discovery through ScriptInfo ----------------------------------------------------------


def test_default_discovery_prefers_wsgi_over_app(ws: Workspace) -> None:
    ws.write("app.py", "from framework import Flask\napp = Flask('from_app')\n")
    assert ScriptInfo().load_app().name == "from_app"
    ws.forget_modules()
    ws.write("wsgi.py", "from framework import Flask\napp = Flask('from_wsgi')\n")
    assert ScriptInfo().load_app().name == "from_wsgi"


def test_default_discovery_fails_clearly(ws: Workspace) -> None:
    with pytest.raises(NoAppException) as info:
        ScriptInfo().load_app()
    message = info.value.format_message()
    assert "Could not locate a Flask application" in message
    assert "--app" in message
    assert "FLASK_APP" in message


def test_routes_without_app_is_a_usage_error(ws: Workspace) -> None:
    result = invoke(["routes"])
    assert result.exit_code == 2
    assert "Could not locate a Flask application" in result.stderr


def test_script_info_caches_the_app(ws: Workspace) -> None:
    calls: list[int] = []

    def create() -> Flask:
        calls.append(1)
        return Flask("cached")

    info = ScriptInfo(create_app=create)
    assert info.load_app() is info.load_app()
    assert calls == [1]


def test_create_app_must_return_an_app(ws: Workspace) -> None:
    info = ScriptInfo(create_app=lambda: t.cast(Flask, "nope"))
    with pytest.raises(NoAppException, match="returned str"):
        info.load_app()


def test_file_path_inside_a_package(ws: Workspace) -> None:
    ws.write("src/pkg/__init__.py", "")
    ws.write("src/pkg/web/__init__.py", "")
    ws.write("src/pkg/web/site.py", "from framework import Flask\napp = Flask(__name__)\n")
    info = ScriptInfo(app_import_path="src/pkg/web/site.py")
    assert info.load_app().name == "pkg.web.site"
    assert sys.path[0] == str((ws.root / "src").resolve())


def test_windows_style_drive_is_not_an_app_name(ws: Workspace) -> None:
    ws.write("drive.py", "from framework import Flask\napp = Flask('drive')\n")
    # "C:\\..." would be split at the colon if the separator rule ignored path separators.
    split = ScriptInfo._split_import_path
    assert split("C:\\src\\drive.py") == ("C:\\src\\drive.py", "", "")
    assert split("C:\\src\\drive.py:app") == ("C:\\src\\drive.py", ":", "app")
    assert split("drive:create_app('a:b')") == ("drive", ":", "create_app('a:b')")


def test_prepare_import_variants(ws: Workspace) -> None:
    ws.write("plainmod.py", "")
    ws.write("pkg/__init__.py", "")
    ws.write("pkg/inner.py", "")
    assert prepare_import("plainmod.py") == "plainmod"
    assert prepare_import("plainmod") == "plainmod"
    assert prepare_import("pkg/inner.py") == "pkg.inner"
    assert prepare_import("pkg/__init__.py") == "pkg"
    assert prepare_import("pkg") == "pkg"
    assert sys.path[0] == str(ws.root.resolve())
    assert sys.path.count(str(ws.root.resolve())) == 1


def test_locate_app_missing_module(ws: Workspace) -> None:
    assert locate_app("not_a_module_zz", None, raise_if_not_found=False) is None
    with pytest.raises(NoAppException, match="Could not import 'not_a_module_zz'"):
        locate_app("not_a_module_zz", None)


def test_locate_app_reports_import_error_inside_the_module(ws: Workspace) -> None:
    ws.write("innerbroken.py", "import does_not_exist_zz\n")
    prepare_import("innerbroken.py")
    for raise_if_not_found in (True, False):
        with pytest.raises(NoAppException) as info:
            locate_app("innerbroken", None, raise_if_not_found=raise_if_not_found)
        message = info.value.format_message()
        assert "While importing 'innerbroken', an ImportError was raised" in message
        assert 'innerbroken.py", line 1' in message
        assert "No module named 'does_not_exist_zz'" in message
        assert "Could not import" not in message


def _module(name: str, **attrs: t.Any) -> types.ModuleType:
    module = types.ModuleType(name)
    vars(module).update(attrs)
    return module


def test_find_best_app_order() -> None:
    a, b = Flask("a"), Flask("b")
    assert find_best_app(_module("m", app=a, application=b)) is a
    assert find_best_app(_module("m", application=b, other=a)) is b
    assert find_best_app(_module("m", whatever=a, alias=a)) is a
    assert find_best_app(_module("m", create_app=lambda: a)) is a
    assert find_best_app(_module("m", make_app=lambda: b)) is b
    assert find_best_app(_module("m", app="not an app", other=b)) is b


def test_find_best_app_errors() -> None:
    with pytest.raises(NoAppException, match=r"multiple Flask applications.*'--app m:name'"):
        find_best_app(_module("m", a=Flask("a"), b=Flask("b")))
    with pytest.raises(NoAppException, match=r"Failed to find.*'m'.*'--app m:name'"):
        find_best_app(_module("m", x=1))

    def create_app(script_info: object) -> Flask:
        return Flask("x")

    with pytest.raises(NoAppException, match=r"could not call it without arguments"):
        find_best_app(_module("m", create_app=create_app))
    with pytest.raises(NoAppException, match=r"returned int, not a Flask application"):
        find_best_app(_module("m", create_app=lambda: 3))


def test_find_app_by_string_calls_and_literals() -> None:
    def factory(name: str, *, debug: bool = False, extra: t.Any = None) -> Flask:
        app = Flask(name)
        app.debug = debug
        app.config["EXTRA"] = extra
        return app

    module = _module("m", factory=factory, app=Flask("plain"), value=3)
    assert find_app_by_string(module, "app").name == "plain"
    made = find_app_by_string(module, "factory('x', debug=True, extra=[1, {'a': (2,)}])")
    assert (made.name, made.debug, made.config["EXTRA"]) == ("x", True, [1, {"a": (2,)}])

    errors = {
        "missing": "Failed to find attribute 'missing' in 'm'",
        "value": "A valid Flask application was not obtained from 'm:value'",
        "app()": "is not a factory function",
        "factory()": "could not be called with the specified arguments",
        "factory": "could not be called with the specified arguments",
        "factory(name)": "Failed to parse arguments as literal values",
        "factory(**{'a': 1})": "Failed to parse arguments as literal values",
        "factory(": "as an attribute name or function call",
        "a.b": "as an attribute name or function call",
        "1 + 1": "as an attribute name or function call",
    }
    for spec, fragment in errors.items():
        with pytest.raises(NoAppException) as info:
            find_app_by_string(module, spec)
        assert fragment in info.value.format_message(), spec


def test_factory_arguments_are_never_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    module = _module("m", create_app=lambda *a: Flask("x"))
    spec = f"create_app(open({str(marker)!r}, 'w'))"
    with pytest.raises(NoAppException, match="literal values"):
        find_app_by_string(module, spec)
    assert not marker.exists()


def test_type_error_inside_factory_propagates() -> None:
    def create_app() -> Flask:
        raise TypeError("inner boom")

    with pytest.raises(TypeError, match="inner boom"):
        find_best_app(_module("m", create_app=create_app))
    with pytest.raises(TypeError, match="inner boom"):
        find_app_by_string(_module("m", create_app=create_app), "create_app()")


# -- dotenv files ----------------------------------------------------------------------------


def test_load_dotenv_precedence_and_search_upwards(ws: Workspace) -> None:
    ws.write(".flaskenv", "FROM_FLASKENV=flaskenv\nSHARED=flaskenv\nTHREE=flaskenv\n")
    ws.write(".env", "FROM_ENV=env\nSHARED=env\nTHREE=env\n")
    ws.write("custom.env", "THREE=custom\n")
    os.environ["PRESET"] = "environment"
    ws.write("more.env", "PRESET=file\n")
    ws.chdir("deeper/still")
    assert load_dotenv(ws.root / "custom.env") is True
    assert os.environ["FROM_FLASKENV"] == "flaskenv"
    assert os.environ["FROM_ENV"] == "env"
    assert os.environ["SHARED"] == "env"
    assert os.environ["THREE"] == "custom"
    assert load_dotenv(ws.root / "more.env", load_defaults=False) is True
    assert os.environ["PRESET"] == "environment"


def test_load_dotenv_nothing_to_load(ws: Workspace) -> None:
    assert load_dotenv() is False
    assert load_dotenv(ws.root / "missing.env") is False


def test_load_dotenv_without_python_dotenv(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "dotenv", None)
    ws.write(".env", "NOT_LOADED=1\n")
    assert load_dotenv() is False
    assert "NOT_LOADED" not in os.environ
    assert "Install python-dotenv" in capsys.readouterr().err
    result = invoke(["-e", ".env", "--version"])
    assert result.exit_code == 2
    assert "python-dotenv must be installed" in result.stderr


def test_flaskenv_sets_the_app_for_commands_and_help(ws: Workspace) -> None:
    ws.write("hello.py", HELLO)
    ws.write(".flaskenv", "FLASK_APP=hello\n")
    assert invoke(["greet"]).stdout == "hello from hello\n"
    assert "greet" in invoke(["--help"]).stdout


def test_env_file_option_beats_defaults_and_works_with_help(ws: Workspace) -> None:
    ws.write("hello.py", HELLO)
    ws.write(".env", "FLASK_APP=not_a_module_zz\n")
    ws.write("my.env", "FLASK_APP=hello\n")
    assert invoke(["-e", "my.env", "greet"]).stdout == "hello from hello\n"
    assert "greet" in invoke(["--help", "-e", "my.env"]).stdout
    assert "greet" in invoke(["--env-file", "my.env", "--help"]).stdout


def test_environment_beats_dotenv_files(ws: Workspace) -> None:
    ws.write("hello.py", HELLO)
    ws.write(".env", "FLASK_APP=not_a_module_zz\n")
    assert invoke(["greet"], env={"FLASK_APP": "hello"}).stdout == "hello from hello\n"


def test_skip_dotenv_skips_defaults_only(ws: Workspace) -> None:
    ws.write("hello.py", HELLO)
    ws.write(".flaskenv", "FLASK_APP=hello\n")
    ws.write("my.env", "FLASK_APP=hello\n")
    skipped = invoke(["greet"], env={"FLASK_SKIP_DOTENV": "1"})
    assert skipped.exit_code == 2
    assert "No such command 'greet'" in skipped.stderr
    forced = invoke(["-e", "my.env", "greet"], env={"FLASK_SKIP_DOTENV": "1"})
    assert forced.stdout == "hello from hello\n"


def test_group_with_load_dotenv_false(ws: Workspace) -> None:
    ws.write(".env", "SHOULD_NOT_LOAD=1\n")
    group = FlaskGroup(load_dotenv=False)
    assert invoke(["--version"], group).exit_code == 0
    assert "SHOULD_NOT_LOAD" not in os.environ


def test_run_from_cli_is_flagged(ws: Workspace) -> None:
    invoke(["--version"])
    assert os.environ["FLASK_RUN_FROM_CLI"] == "true"


# -- shell -----------------------------------------------------------------------------------


def test_shell_runs_code_in_app_context(ws: Workspace) -> None:
    ws.write(
        "shellapp.py",
        """\
        from framework import Flask

        app = Flask(__name__)

        @app.shell_context_processor
        def extra():
            return {"answer": 42}
        """,
    )
    script = "print(app.name, answer)\nfrom framework import current_app\nprint(current_app.name)\n"
    result = invoke(["--app", "shellapp", "shell"], input=script)
    assert result.exit_code == 0, result.output
    assert "shellapp 42" in result.stdout
    assert ">>> shellapp\n" in result.stdout
    assert f"Python {sys.version}" in result.stderr
    assert "App: shellapp" in result.stderr
    assert f"Instance: {ws.root.resolve() / 'instance'}" in result.stderr


def test_shell_honours_pythonstartup(ws: Workspace) -> None:
    ws.write("hello.py", HELLO)
    startup = ws.write("startup.py", "from_startup = 'ran'\napp = 'replaced by the app'\n")
    result = invoke(
        ["--app", "hello", "shell"],
        input="print(from_startup, app.name)\n",
        env={"PYTHONSTARTUP": str(startup)},
    )
    assert "ran hello" in result.stdout


def test_shell_uses_code_interact(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    import code

    seen: dict[str, t.Any] = {}

    def fake_interact(banner: str | None = None, local: dict[str, t.Any] | None = None) -> None:
        seen.update(banner=banner, local=local, ctx=has_app_context())

    monkeypatch.setattr(code, "interact", fake_interact)
    ws.write("hello.py", HELLO)
    assert invoke(["--app", "hello", "shell"]).exit_code == 0
    assert seen["ctx"] is True
    assert seen["local"]["app"].name == "hello"
    assert "g" in seen["local"]
    assert "App: hello" in seen["banner"]


# -- AppGroup, with_appcontext, FlaskGroup(create_app=...) ----------------------------------


def test_app_cli_commands_with_test_cli_runner() -> None:
    app = Flask("cliapp")

    @app.cli.command()
    def inside() -> None:
        click.echo(f"{has_app_context()} {current_app.name}")

    @app.cli.command(with_appcontext=False)
    def outside() -> None:
        click.echo(str(has_app_context()))

    @app.cli.command
    def bare() -> None:
        click.echo(current_app.name)

    @app.cli.group()
    def db() -> None:
        pass

    @db.command()
    def init() -> None:
        click.echo(f"init {current_app.name}")

    runner = t.cast(FlaskCliRunner, app.test_cli_runner())
    assert runner.invoke(args=["inside"]).output == "True cliapp\n"
    assert runner.invoke(args=["outside"]).output == "False\n"
    assert runner.invoke(args=["bare"]).output == "cliapp\n"
    assert isinstance(db, AppGroup)
    assert runner.invoke(args=["db", "init"]).output == "init cliapp\n"


def test_with_appcontext_on_plain_click_command() -> None:
    app = Flask("wac")

    @click.command()
    @with_appcontext
    def show() -> None:
        click.echo(current_app.name)

    result = CliRunner().invoke(show, obj=ScriptInfo(create_app=lambda: app))
    assert result.output == "wac\n"


def test_flask_group_with_create_app(ws: Workspace) -> None:
    app = Flask("factoryapp")

    @app.cli.command("from-app")
    def from_app() -> None:
        click.echo("app command")

    group = FlaskGroup(create_app=lambda: app)

    @group.command()
    def own() -> None:
        click.echo(f"own {current_app.name}")

    help_text = invoke(["--help"], group).stdout
    for name in ("from-app", "own", "routes", "run", "shell"):
        assert name in help_text
    assert invoke(["own"], group).stdout == "own factoryapp\n"
    assert invoke(["from-app"], group).stdout == "app command\n"
    assert "Rule" in invoke(["routes"], group).stdout


def test_flask_group_without_defaults_and_version(ws: Workspace) -> None:
    group = FlaskGroup(
        create_app=lambda: Flask("bare"), add_default_commands=False, add_version_option=False
    )
    help_text = invoke(["--help"], group).stdout
    assert "run" not in help_text.split("Commands:")[-1]
    assert "--version" not in help_text
    assert invoke(["--version"], group).exit_code == 2


def test_custom_group_params_are_kept(ws: Workspace) -> None:
    seen: list[str] = []
    extra = click.Option(["--flavour"], expose_value=False, callback=lambda c, p, v: seen.append(v))
    group = FlaskGroup(create_app=lambda: Flask("p"), params=[extra])
    assert invoke(["--flavour", "mint", "routes"], group).exit_code == 0
    assert seen == ["mint"]


def test_plugin_commands_from_entry_points(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = ws.root / "plugins"
    ws.write(
        "plugins/plugmod_zz.py",
        """\
        import click

        @click.command()
        def cmd():
            \"\"\"Provided by a plugin.\"\"\"
            click.echo("plugin ran")
        """,
    )
    ws.write("plugins/plugdist_zz-1.0.dist-info/METADATA", "Name: plugdist_zz\nVersion: 1.0\n")
    ws.write(
        "plugins/plugdist_zz-1.0.dist-info/entry_points.txt",
        "[framework.commands]\nplugged = plugmod_zz:cmd\n",
    )
    monkeypatch.syspath_prepend(str(plugins))
    group = FlaskGroup()
    # --help names the plugin by its package without importing it (see test_cli_plugins).
    help_text = invoke(["--help"], group).stdout
    assert re.search(r"^  plugged +Command from plugdist_zz\.$", help_text, re.M)
    assert "plugmod_zz" not in sys.modules
    assert "Provided by a plugin." in invoke(["plugged", "--help"], group).stdout
    assert invoke(["plugged"], group).stdout == "plugin ran\n"
