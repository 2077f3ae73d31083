"""The ``framework`` CLI against the real ``flask`` CLI on the same app modules.

Each scenario writes the same files twice, once importing ``flask`` and once importing
``framework``, into separate folders, and runs the two command lines (in process, through
click's runner) on them.
"""

from __future__ import annotations

import importlib
import typing as t
from importlib import metadata
from pathlib import Path

import click
import flask.cli
import pytest
from click.testing import CliRunner, Result

import framework.cli

from ._cli_support import Workspace

IMPLS = {"flask": flask.cli, "framework": framework.cli}


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> t.Iterator[Workspace]:
    workspace = Workspace(tmp_path, monkeypatch)
    yield workspace
    workspace.close()


class Scenario:
    """The same files under ``<case>/flask`` and ``<case>/framework``."""

    counter = 0

    def __init__(self, ws: Workspace, files: dict[str, str]) -> None:
        Scenario.counter += 1
        self.ws = ws
        self.case = f"case{Scenario.counter}"
        for impl in IMPLS:
            for relative, text in files.items():
                ws.write(f"{self.case}/{impl}/{relative}", text, impl=impl)
        importlib.invalidate_caches()

    def enter(self, impl: str) -> t.Any:
        self.ws.forget_modules()
        self.ws.chdir(f"{self.case}/{impl}")
        return IMPLS[impl]

    def load(self, impl: str, spec: str | None) -> tuple[t.Any, ...]:
        """What loading ``spec`` gives: the app's name, or the kind of failure."""
        module = self.enter(impl)
        try:
            app = module.ScriptInfo(app_import_path=spec).load_app()
        except module.NoAppException as error:
            return ("NoAppException", error.format_message())
        except Exception as error:
            return (type(error).__name__, str(error))
        return ("app", app.name)

    def invoke(self, impl: str, args: list[str], **kwargs: t.Any) -> Result:
        module = self.enter(impl)
        return CliRunner().invoke(module.cli, args, **kwargs)


MODULE = """\
    from framework import Flask

    app = Flask("attr_app")
    application = Flask("application_attr")
"""

FACTORIES = """\
    from framework import Flask

    def create_app(name="factory_app", *, suffix=""):
        return Flask(name + suffix)

    def needs(arg):
        return Flask("needs")

    def crashes():
        raise TypeError("inner boom")

    def not_an_app():
        return 3

    value = 42
"""

MAKE_APP = "from framework import Flask\ndef make_app():\n    return Flask('mk')\n"
SCRIPT_INFO_FACTORY = (
    "from framework import Flask\ndef create_app(script_info):\n    return Flask('s')\n"
)

MAKE_APP = "from framework import Flask\ndef make_app():\n    return Flask('mk')\n"
SCRIPT_INFO_FACTORY = (
    "from framework import Flask\ndef create_app(script_info):\n    return Flask('s')\n"
)

DISCOVERY_CASES: list[tuple[str, dict[str, str], str | None]] = [
    ("app attribute", {"m.py": MODULE}, "m"),
    ("explicit name", {"m.py": MODULE}, "m:application"),
    ("file path", {"m.py": MODULE}, "m.py"),
    ("file path and name", {"m.py": MODULE}, "m.py:application"),
    ("only application", {"m.py": "from framework import Flask\napplication = Flask('a2')\n"}, "m"),
    ("single other name", {"m.py": "from framework import Flask\nweb = Flask('web')\n"}, "m"),
    ("two apps", {"m.py": "from framework import Flask\na = Flask('a')\nb = Flask('b')\n"}, "m"),
    ("factory", {"m.py": FACTORIES}, "m"),
    ("factory no parens", {"m.py": FACTORIES}, "m:create_app"),
    ("factory positional", {"m.py": FACTORIES}, "m:create_app('given')"),
    ("factory keyword", {"m.py": FACTORIES}, "m:create_app('x', suffix='_y')"),
    ("factory bad args", {"m.py": FACTORIES}, "m:create_app(1, 2, 3)"),
    ("factory needs args", {"m.py": FACTORIES}, "m:needs"),
    ("factory crashes", {"m.py": FACTORIES}, "m:crashes()"),
    ("not an app", {"m.py": FACTORIES}, "m:not_an_app"),
    ("plain value", {"m.py": FACTORIES}, "m:value"),
    ("missing attribute", {"m.py": FACTORIES}, "m:missing"),
    ("non-literal args", {"m.py": FACTORIES}, "m:create_app(value)"),
    ("bad syntax", {"m.py": FACTORIES}, "m:create_app("),
    ("dotted name", {"m.py": FACTORIES}, "m:a.b"),
    ("make_app", {"m.py": MAKE_APP}, "m"),
    ("script_info factory", {"m.py": SCRIPT_INFO_FACTORY}, "m"),
    ("nothing in module", {"m.py": "x = 1\n"}, "m"),
    ("missing module", {}, "not_a_module_zz"),
    ("import error inside", {"m.py": "import does_not_exist_zz\n"}, "m"),
    ("package path", {"pkg/__init__.py": "", "pkg/web.py": MODULE}, "pkg/web.py"),
    ("package dotted", {"pkg/__init__.py": "", "pkg/web.py": MODULE}, "pkg.web"),
    ("package itself", {"pkg/__init__.py": MODULE}, "pkg"),
    ("default wsgi", {"wsgi.py": MODULE, "app.py": FACTORIES}, None),
    ("default app", {"app.py": FACTORIES}, None),
    ("default app package", {"app/__init__.py": MODULE}, None),
    ("no default", {"other.py": MODULE}, None),
]


@pytest.mark.parametrize(
    ("files", "spec"), [case[1:] for case in DISCOVERY_CASES], ids=[c[0] for c in DISCOVERY_CASES]
)
def test_discovery_matches_flask(ws: Workspace, files: dict[str, str], spec: str | None) -> None:
    scenario = Scenario(ws, files)
    theirs = scenario.load("flask", spec)
    ours = scenario.load("framework", spec)
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "app":
        assert ours == theirs
    elif ours[0] == "NoAppException":
        module = (spec or "").partition(":")[0].removesuffix(".py").replace("/", ".")
        assert module in ours[1], ours


def test_import_error_inside_module_shows_the_real_traceback(ws: Workspace) -> None:
    scenario = Scenario(ws, {"m.py": "x = 1\nimport does_not_exist_zz\n"})
    for impl in IMPLS:
        result = scenario.invoke(impl, ["--app", "m", "routes"])
        assert result.exit_code == 2
        assert "While importing 'm', an ImportError was raised" in result.stderr
        assert 'm.py", line 2, in <module>' in result.stderr
        assert "No module named 'does_not_exist_zz'" in result.stderr


ROUTES_APP = """\
    from framework import Blueprint, Flask

    app = Flask(__name__)
    bp = Blueprint("shop", __name__, url_prefix="/shop")

    @app.route("/z", methods=["POST"])
    @app.route("/b")
    @app.route("/a")
    def idx():
        return "i"

    @app.route("/0", methods=["PUT", "DELETE"])
    def aaa():
        return "a"

    @bp.route("/<int:item>", methods=["GET", "PATCH"])
    def item(item):
        return "x"

    @bp.get("/")
    def listing():
        return "l"

    app.register_blueprint(bp)
"""

SUBDOMAIN_APP = """\
    from framework import Flask

    app = Flask(__name__, static_folder=None)
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/a", subdomain="z")
    @app.route("/z", methods=["POST"])
    @app.route("/x", subdomain="a")
    def idx():
        return "hi"

    @app.route("/y", methods=["GET", "POST"])
    @app.route("/b")
    def b():
        return "hi"
"""

HOST_APP = """\
    from framework import Flask

    app = Flask(__name__, host_matching=True, static_host="static.test")

    @app.route("/", host="b.test")
    def b():
        return "hi"

    @app.route("/other", host="a.test", methods=["GET", "POST"])
    def a():
        return "hi"
"""

EMPTY_APP = "from framework import Flask\napp = Flask(__name__, static_folder=None)\n"

ROUTE_ARGS = [
    [],
    ["--sort", "endpoint"],
    ["-s", "methods"],
    ["-s", "domain"],
    ["-s", "rule"],
    ["-s", "match"],
    ["--all-methods"],
    ["-s", "bogus"],
]


@pytest.mark.parametrize("source", [ROUTES_APP, SUBDOMAIN_APP, HOST_APP, EMPTY_APP])
def test_routes_output_matches_flask(ws: Workspace, source: str) -> None:
    scenario = Scenario(ws, {"routesmod.py": source})
    for args in ROUTE_ARGS:
        theirs = scenario.invoke("flask", ["--app", "routesmod", "routes", *args])
        ours = scenario.invoke("framework", ["--app", "routesmod", "routes", *args])
        assert ours.exit_code == theirs.exit_code, args
        assert ours.stdout == theirs.stdout, args
        assert ours.stderr.replace("framework", "flask") == theirs.stderr, args


def _command_names(result: Result) -> set[str]:
    section = result.stdout.split("Commands:", 1)[1]
    return {line.split()[0] for line in section.splitlines() if line.strip()}


def _plugins(group: str) -> set[str]:
    return {entry_point.name for entry_point in metadata.entry_points(group=group)}


APP_WITH_COMMANDS = """\
    import click
    from framework import Flask, current_app

    app = Flask(__name__)

    @app.cli.command("greet")
    def greet():
        \"\"\"Say hello.\"\"\"
        click.echo(f"hello {current_app.name} {current_app.debug}")

    @app.cli.group()
    def db():
        \"\"\"Database commands.\"\"\"

    @db.command()
    def init():
        click.echo("init " + current_app.name)
"""


def test_help_and_app_commands_match_flask(ws: Workspace) -> None:
    scenario = Scenario(ws, {"cmds.py": APP_WITH_COMMANDS})
    theirs = scenario.invoke("flask", ["--app", "cmds", "--help"])
    ours = scenario.invoke("framework", ["--app", "cmds", "--help"])
    assert ours.exit_code == theirs.exit_code == 0
    ours_plugins = _plugins("framework.commands") | _plugins("flask.commands")
    assert _command_names(ours) - ours_plugins == _command_names(theirs) - _plugins(
        "flask.commands"
    )
    assert "greet" in _command_names(ours)

    for args in (["greet"], ["--debug", "greet"], ["db", "init"], ["nope"]):
        theirs = scenario.invoke("flask", ["--app", "cmds", *args])
        ours = scenario.invoke("framework", ["--app", "cmds", *args])
        assert (ours.exit_code, ours.stdout) == (theirs.exit_code, theirs.stdout), args


def test_dotenv_behaviour_matches_flask(ws: Workspace) -> None:
    files = {
        "cmds.py": APP_WITH_COMMANDS,
        ".flaskenv": "FLASK_APP=not_a_module_zz\nFLASK_DEBUG=1\n",
        ".env": "FLASK_APP=cmds\n",
    }
    scenario = Scenario(ws, files)
    for impl in IMPLS:
        result = scenario.invoke(impl, ["greet"])
        assert result.stdout == "hello cmds True\n", (impl, result.output)


def test_shell_matches_flask(ws: Workspace) -> None:
    scenario = Scenario(ws, {"cmds.py": APP_WITH_COMMANDS})
    outputs = {}
    for impl in IMPLS:
        result = scenario.invoke(impl, ["--app", "cmds", "shell"], input="print(app.name)\n")
        assert result.exit_code == 0
        outputs[impl] = result.output.replace(str(ws.root / scenario.case / impl), "ROOT")
    assert outputs["framework"] == outputs["flask"]


def test_version_lines_match_flask_shape() -> None:
    theirs = CliRunner().invoke(flask.cli.cli, ["--version"]).stdout.splitlines()
    ours = CliRunner().invoke(framework.cli.cli, ["--version"]).stdout.splitlines()
    assert ours[0] == theirs[0]
    assert ours[2] == theirs[2]
    assert ours[1].split()[0] == "framework"


def test_run_options_match_flask() -> None:
    def options(command: click.Command) -> list[tuple[str, ...]]:
        return sorted(tuple(sorted(p.opts + p.secondary_opts)) for p in command.params)

    assert options(framework.cli.run_command) == options(flask.cli.run_command)
    assert options(framework.cli.routes_command) == options(flask.cli.routes_command)
    assert options(framework.cli.cli) == options(flask.cli.cli)
