"""Plugin commands: imported on demand, each failure its own, Flask's plugins on framework.

In-process tests use throw-away distributions (a ``*.dist-info`` folder with
``entry_points.txt``) put on ``sys.path``; the ``flask.commands`` ones run the real
``framework`` command in a child process, since loading them installs the flask alias.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from framework.cli import FlaskGroup

from ._cli_support import Workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> t.Iterator[Workspace]:
    workspace = Workspace(tmp_path, monkeypatch)
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    yield workspace
    workspace.close()


def _distribution(ws: Workspace, name: str, group: str, entry_points: str) -> None:
    ws.write(f"plugins/{name}-1.0.dist-info/METADATA", f"Name: {name}\nVersion: 1.0\n")
    ws.write(f"plugins/{name}-1.0.dist-info/entry_points.txt", f"[{group}]\n{entry_points}\n")


def invoke(group: FlaskGroup, *args: str) -> Result:
    return CliRunner().invoke(group, list(args))


def test_help_and_builtin_commands_import_no_plugin(ws: Workspace) -> None:
    ws.write(
        "plugins/plug_loud_zz.py",
        """\
        import click
        raise SystemExit("imported!")
        """,
    )
    _distribution(ws, "loud_zz", "framework.commands", "loud = plug_loud_zz:cmd")
    ws.write("app.py", "from framework import Flask\napp = Flask(__name__)\n")
    group = FlaskGroup()
    help_text = invoke(group, "--help")
    assert help_text.exit_code == 0
    assert re.search(r"^  loud +Command from loud_zz\.$", help_text.stdout, re.M)
    assert invoke(group, "routes").exit_code == 0
    assert "plug_loud_zz" not in sys.modules


def test_a_plugin_missing_its_extra_names_the_extra(ws: Workspace) -> None:
    ws.write("plugins/plug_extra_zz.py", "import not_installed_zz\n")
    ws.write("plugins/plug_fine_zz.py", "import click\ncmd = click.Command('fine')\n")
    _distribution(
        ws,
        "extra_zz",
        "framework.commands",
        "needy = plug_extra_zz:cmd [cloud, yaml]\nfine = plug_fine_zz:cmd",
    )
    group = FlaskGroup()
    for args in (["needy"], ["needy", "--help"], ["needy", "sub", "--flag"]):
        result = invoke(group, *args)
        assert result.exit_code == 1
        assert result.output == (
            "Error: The 'needy' command needs the extras [cloud,yaml] of extra_zz, which is "
            "not installed (ModuleNotFoundError: No module named 'not_installed_zz'). "
            'Install it with: pip install "extra_zz[cloud,yaml]"\n'
        )
    # Nothing else is affected.
    assert invoke(group, "fine", "--help").exit_code == 0
    assert invoke(group, "--help").exit_code == 0


def test_a_broken_plugin_says_what_failed_without_a_traceback(ws: Workspace) -> None:
    ws.write("plugins/plug_broken_zz.py", "import missing_dependency_zz\n")
    ws.write("plugins/plug_raises_zz.py", "raise ValueError('bad config')\n")
    ws.write("plugins/plug_notcmd_zz.py", "cmd = 42\n")
    _distribution(
        ws,
        "broken_zz",
        "framework.commands",
        "broken = plug_broken_zz:cmd\nraises = plug_raises_zz:cmd\nnotcmd = plug_notcmd_zz:cmd",
    )
    group = FlaskGroup()
    outputs = {name: invoke(group, name) for name in ("broken", "raises", "notcmd")}
    assert {name: r.exit_code for name, r in outputs.items()} == dict.fromkeys(outputs, 1)
    assert outputs["broken"].output == (
        "Error: The 'broken' command of broken_zz could not be imported "
        "(ModuleNotFoundError: No module named 'missing_dependency_zz'). Reinstall "
        "broken_zz with its dependencies: pip install --force-reinstall broken_zz\n"
    )
    assert outputs["raises"].output == (
        "Error: The 'raises' command of broken_zz failed to load (ValueError: bad config).\n"
    )
    assert outputs["notcmd"].output == (
        "Error: The 'notcmd' entry point of broken_zz (plug_notcmd_zz:cmd) is int, not a "
        "click command.\n"
    )


def test_a_plugin_replaces_a_builtin_command_of_its_name(ws: Workspace) -> None:
    # As in Flask (Flask-SocketIO ships its own `run`).
    ws.write(
        "plugins/plug_run_zz.py",
        """\
        import click

        @click.command()
        def run():
            click.echo("plugin run")
        """,
    )
    _distribution(ws, "run_zz", "framework.commands", "run = plug_run_zz:run")
    assert invoke(FlaskGroup(), "run").output == "plugin run\n"


def _child_env(plugins: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "FRAMEWORK_")) and key != "PYTHONPATH"
    }
    env["PYTHONPATH"] = os.pathsep.join([str(plugins), str(ROOT)])
    return env


def _framework(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "framework", *args],
        cwd=cwd,
        env={**_child_env(cwd / "plugins"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


FLASK_PLUGIN = """\
    import sys

    import click
    import flask
    from flask.cli import with_appcontext

    print("plugin imported", file=sys.stderr)


    @click.command()
    @with_appcontext
    def hello():
        import framework

        click.echo(f"{flask.current_app.name} {flask is framework}")
"""


def test_a_flask_commands_plugin_runs_on_framework(ws: Workspace) -> None:
    # A Flask extension's command (as Flask-Limiter registers `limiter`): loading it
    # installs the alias first, so the extension's `flask` is framework.
    ws.write("plugins/plug_flask_zz.py", FLASK_PLUGIN)
    _distribution(ws, "flaskext_zz", "flask.commands", "hello = plug_flask_zz:hello")
    ws.write("app.py", "from framework import Flask\napp = Flask('site')\n")
    done = _framework(ws.root, "hello")
    assert (done.returncode, done.stdout) == (0, "site True\n"), done.stderr
    listed = _framework(ws.root, "--help")
    assert re.search(r"^  hello +Command from flaskext_zz\.$", listed.stdout, re.M)
    assert "plugin imported" not in listed.stderr


def test_an_app_written_for_flask_runs_with_the_setting(ws: Workspace) -> None:
    # `import flask` in the app and no install_as_flask() line: FRAMEWORK_INSTALL_AS_FLASK
    # (here from .flaskenv) makes the command line install it before importing the app.
    ws.write(
        "app.py",
        """\
        import flask

        app = flask.Flask("site")

        @app.route("/")
        def index():
            return "hi"
        """,
    )
    without = _framework(ws.root, "routes")
    assert without.returncode == 2
    assert "Failed to find Flask application" in without.stderr
    ws.write(".flaskenv", "FRAMEWORK_INSTALL_AS_FLASK=1\n")
    with_setting = _framework(ws.root, "routes")
    assert with_setting.returncode == 0, with_setting.stderr
    assert with_setting.stdout.splitlines()[2].split() == ["index", "GET", "/"]


def test_the_setting_after_flask_was_imported_is_a_clear_error(ws: Workspace) -> None:
    ws.write("plugins/sitecustomize.py", "import flask\n")
    ws.write("app.py", "import framework\napp = framework.Flask('site')\n")
    done = _framework(ws.root, "routes", FRAMEWORK_INSTALL_AS_FLASK="1")
    assert done.returncode == 2
    assert "FRAMEWORK_INSTALL_AS_FLASK is set, but: The real Flask" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_name_in_both_groups_is_framework_commands_and_listed_once(tmp_path: Path) -> None:
    # Entry points read from metadata only: two distributions giving one name, the
    # framework.commands one wins, and only it is imported.
    plugins = tmp_path / "plugins"
    for dist, group in (("first_zz", "framework.commands"), ("second_zz", "flask.commands")):
        folder = plugins / f"{dist}-1.0.dist-info"
        folder.mkdir(parents=True)
        (folder / "METADATA").write_text(f"Name: {dist}\nVersion: 1.0\n")
        (folder / "entry_points.txt").write_text(f"[{group}]\nsame = mod_{dist}:cmd\n")
    (plugins / "mod_first_zz.py").write_text(
        textwrap.dedent(
            """\
            import click

            @click.command()
            def cmd():
                click.echo("first")
            """
        )
    )
    (plugins / "mod_second_zz.py").write_text("raise SystemExit('second imported')\n")
    done = _framework(tmp_path, "same")
    assert (done.returncode, done.stdout) == (0, "first\n"), done.stderr
    listed = _framework(tmp_path, "--help").stdout
    assert listed.count("  same ") == 1
    assert "Command from first_zz." in listed
