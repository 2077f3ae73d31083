"""framework.install_as_flask(): `flask` is framework, in this process and its children.

Every test runs in a fresh interpreter: the alias is process-wide, and this test session
has the real Flask imported for the parity tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import flask as real_flask
import pytest

ROOT = Path(__file__).resolve().parents[2]
REAL_FLASK = Path(real_flask.__file__).resolve()


def _env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "FRAMEWORK_")) and key not in {"PYTHONPATH", "CI"}
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_python(
    code: str, cwd: Path, *args: str, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_flask_and_its_modules_are_frameworks_own(tmp_path: Path) -> None:
    done = run_python(
        """
        import json, sys
        import framework
        framework.install_as_flask()
        framework.install_as_flask()  # twice is harmless
        import flask
        import flask.json.provider, flask.cli, flask.views, flask.globals, flask.testing
        from flask import Flask, request, current_app, g, session
        from flask.sansio.app import App
        from flask.sansio.scaffold import Scaffold, setupmethod, _endpoint_from_view_func
        from flask.sansio.blueprints import Blueprint, BlueprintSetupState
        from flask.helpers import _endpoint_from_view_func as from_helpers
        from flask.scaffold import _endpoint_from_view_func as from_scaffold
        from flask.debughelpers import DebugFilesKeyError, explain_template_loading_attempts
        from flask.signals import Namespace
        import framework.json.provider, framework.cli, framework.views, framework.globals

        def view(): pass

        print(json.dumps({
            "flask": flask is framework,
            "modules": [
                flask.json.provider is framework.json.provider,
                flask.cli is framework.cli,
                flask.views is framework.views,
                flask.globals is framework.globals,
                sys.modules["flask.testing"] is sys.modules["framework.testing"],
            ],
            "names": [Flask is framework.Flask, request is framework.request,
                      current_app is framework.current_app, App is framework.Flask,
                      Blueprint is framework.Blueprint, Scaffold is framework.scaffold.Scaffold],
            "endpoint": [_endpoint_from_view_func(view), from_helpers(view),
                         from_scaffold(view)],
            # The modules keep their own identity: specs and names are framework's.
            "spec": flask.cli.__spec__.name,
            "name": flask.views.__name__,
            "file": flask.__file__,
        }))
        """,
        tmp_path,
    )
    out = json.loads(done.stdout)
    assert out["flask"] is True
    assert out["modules"] == [True] * 5
    assert out["names"] == [True] * 6
    assert out["endpoint"] == ["view"] * 3
    assert (out["spec"], out["name"]) == ("framework.cli", "framework.views")
    assert out["file"] == str(ROOT / "framework" / "__init__.py")


def test_an_extension_on_flask_runs_in_a_framework_app(tmp_path: Path) -> None:
    # An "extension" written for Flask: it imports flask and uses its globals.
    (tmp_path / "flask_greeting.py").write_text(
        textwrap.dedent(
            """
            from flask import current_app, g, request, session


            class Greeting:
                def __init__(self, app=None):
                    if app is not None:
                        self.init_app(app)

                def init_app(self, app):
                    app.extensions["greeting"] = self
                    app.before_request(self.load)

                def load(self):
                    g.greeting = f"hello {request.args['name']} from {current_app.name}"
                    session["seen"] = True
            """
        )
    )
    done = run_python(
        """
        import framework
        framework.install_as_flask()
        import flask
        from flask_greeting import Greeting

        app = flask.Flask("site")
        app.secret_key = "test"
        Greeting(app)

        @app.route("/")
        def index():
            return flask.g.greeting + " " + repr(flask.g._get_current_object())

        print(app.test_client().get("/?name=ann").text)
        with app.app_context():
            print(repr(flask.g))
        """,
        tmp_path,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "hello ann from site <flask.g of 'site'>"
    assert lines[1] == "<flask.g of 'site'>"


def test_without_the_alias_g_is_named_framework(tmp_path: Path) -> None:
    done = run_python(
        """
        import framework
        app = framework.Flask("site")
        with app.app_context():
            print(repr(framework.g))
        """,
        tmp_path,
    )
    assert done.stdout.strip() == "<framework.g of 'site'>"


def test_version_answers_are_flasks_under_the_alias(tmp_path: Path) -> None:
    done = run_python(
        """
        import importlib.metadata, json, warnings
        import framework
        before = framework.__version__
        framework.install_as_flask()
        import flask
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            version = flask.__version__
        print(json.dumps({
            "before": before,
            "version": version,
            "warning": [w.category.__name__ for w in caught],
            "message": str(caught[0].message),
            "metadata": importlib.metadata.version("flask"),
            "Metadata": importlib.metadata.version("Flask"),
            "name": importlib.metadata.metadata("flask")["Name"],
            "werkzeug": importlib.metadata.version("werkzeug"),
        }))
        """,
        tmp_path,
        "-W",
        "error",
    )
    out = json.loads(done.stdout)
    assert out["before"] == "0.1.0"
    assert out["version"] == out["metadata"] == out["Metadata"] == "3.1.3"
    assert out["warning"] == ["DeprecationWarning"]
    assert "'__version__' attribute is deprecated" in out["message"]
    assert out["name"] == "Flask"
    assert out["werkzeug"] == importlib_metadata_version("werkzeug")


def importlib_metadata_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def test_calling_it_after_flask_was_imported_names_the_importer(tmp_path: Path) -> None:
    (tmp_path / "flask_ext_zz.py").write_text("from flask import current_app\n")
    done = run_python(
        """
        import flask_ext_zz
        import framework
        try:
            framework.install_as_flask()
        except framework.alias.FlaskAlreadyImportedError as error:
            print(type(error).__mro__[1].__name__)
            print(error)
        """,
        tmp_path,
    )
    kind, message = done.stdout.split("\n", 1)
    assert kind == "RuntimeError"
    assert message.startswith(f"The real Flask ({REAL_FLASK}) was imported by flask_ext_zz, ")
    assert "Call framework.install_as_flask() before importing extensions" in message
    assert "first lines of main.py and of conftest.py" in message


def test_the_real_flask_mixed_into_a_framework_app_is_reported_once(tmp_path: Path) -> None:
    (tmp_path / "flask_ext_zz.py").write_text(
        textwrap.dedent(
            """
            from flask import current_app


            def init_app(app):
                app.before_request(lambda: current_app.name)
            """
        )
    )
    done = run_python(
        """
        import warnings
        import flask_ext_zz
        from framework import Flask

        first, second = Flask("one"), Flask("two")
        first.testing = True  # the error propagates, as in a test suite
        flask_ext_zz.init_app(first)
        flask_ext_zz.init_app(second)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                first.test_client().get("/")
            except RuntimeError as error:
                print("then:", str(error).splitlines()[0])
            second.test_client().get("/")
        for warning in caught:
            print(warning.category.__name__ + ":", warning.message)
        """,
        tmp_path,
    )
    lines = done.stdout.splitlines()
    # The warning comes first and once; Flask's own error follows, as it did before.
    assert len(lines) == 2, lines
    assert lines[0] == "then: Working outside of application context."
    assert lines[1].startswith(
        f"MixedFlaskWarning: The real Flask ({REAL_FLASK}) was imported by flask_ext_zz, "
        "and code from flask_ext_zz is registered on the framework app 'one' without "
        "framework.install_as_flask()"
    )
    assert "Call framework.install_as_flask() before importing extensions" in lines[1]


def test_flask_next_to_a_framework_app_is_not_reported(tmp_path: Path) -> None:
    # Both in one process on purpose (as this repository's parity tests do): nothing of
    # the real Flask is registered on the framework app, so there is nothing to report.
    done = run_python(
        """
        import flask
        import framework

        ours, theirs = framework.Flask("ours"), flask.Flask("theirs")
        ours.add_url_rule("/", "i", lambda: "ours")
        theirs.add_url_rule("/", "i", lambda: "theirs")
        print(ours.test_client().get("/").text, theirs.test_client().get("/").text)
        """,
        tmp_path,
        "-W",
        "error",
    )
    assert done.stdout.strip() == "ours theirs"


def test_child_processes_get_the_alias(tmp_path: Path) -> None:
    done = run_python(
        """
        import subprocess, sys
        import framework
        framework.install_as_flask()
        code = "import flask, framework; print(flask is framework, flask.Flask.__module__)"
        print(subprocess.run([sys.executable, "-c", code], capture_output=True,
                             text=True, check=True).stdout.strip())
        # python -m flask and the flask command run framework's command line.
        for argv in ([sys.executable, "-m", "flask", "--version"],
                     [sys.executable.replace("python", "flask"), "--version"]):
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            print(out.splitlines()[1])
        """,
        tmp_path,
    )
    assert done.stdout.splitlines() == ["True framework.app", "framework 0.1.0", "framework 0.1.0"]


def test_a_child_without_framework_gets_the_real_flask(tmp_path: Path) -> None:
    # The stand-in `flask` on PYTHONPATH, in an interpreter where framework cannot be
    # imported (another environment): the real Flask loads as if it were not there.
    alias_path = ROOT / "framework" / "_flask_alias"
    done = run_python(
        """
        import sys
        sys.modules["framework"] = None  # cannot be imported here
        import flask
        print(flask.__file__, flask.Flask.__module__)
        """,
        tmp_path,
        PYTHONPATH=f"{alias_path}{os.pathsep}{ROOT}",
    )
    assert done.stdout.split() == [str(REAL_FLASK), "flask.app"]


def test_pytest_ini_option_installs_it_before_conftest(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("import flask\nFLASK = flask\n")
    (tmp_path / "test_it.py").write_text(
        textwrap.dedent(
            """
            import flask
            import framework


            def test_flask_is_framework():
                assert flask is framework
                assert flask.Flask("x").test_client().get("/nope").status_code == 404
            """
        )
    )
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_it.py"]
    env = _env()
    on = subprocess.run(
        [*base, "-o", "install_as_flask=true"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert on.returncode == 0, on.stdout
    off = subprocess.run(base, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert off.returncode == 1
    assert "assert flask is framework" in off.stdout


def test_pytest_ini_option_after_flask_was_imported_is_a_usage_error(tmp_path: Path) -> None:
    # A plugin given before ours imports the real Flask: the run stops with the reason.
    (tmp_path / "early_flask_plugin.py").write_text("import flask\n")
    (tmp_path / "test_it.py").write_text("def test_nothing():\n    pass\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "early_flask_plugin",
            "-o",
            "install_as_flask=true",
        ],
        cwd=tmp_path,
        env=_env(PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 4
    assert "install_as_flask = true, but: The real Flask" in done.stderr
    assert "early_flask_plugin" in done.stderr


@pytest.mark.parametrize("argv0", ["-m flask", "flask"])
def test_the_real_flask_command_is_pointed_to_framework(tmp_path: Path, argv0: str) -> None:
    # Running Flask's own command on an app that calls install_as_flask(): the error
    # says to run framework's command instead.
    (tmp_path / "app.py").write_text(
        "import framework\nframework.install_as_flask()\napp = framework.Flask(__name__)\n"
    )
    flask_command = (
        [sys.executable, "-m", "flask"]
        if argv0 == "-m flask"
        else [sys.executable.replace("python", "flask")]
    )
    done = subprocess.run(
        [*flask_command, "--app", "app", "routes"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "This process runs the real Flask's command" in done.stderr
    assert "run 'framework' (or 'python -m framework') instead" in done.stderr


def test_gae_wrap_reports_the_mix_at_start_up(tmp_path: Path) -> None:
    # On App Engine the warning lands in the instance's log when main.py builds the app,
    # before any request fails.
    (tmp_path / "flask_ext_zz.py").write_text(
        "from flask import g\n\ndef init_app(app):\n    app.before_request(lambda: g)\n"
    )
    done = run_python(
        """
        import warnings
        import flask_ext_zz
        import gae
        from framework import Flask

        app = Flask("site")
        flask_ext_zz.init_app(app)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gae.wrap(app)
        for warning in caught:
            print(warning.category.__name__, warning.message)
        """,
        tmp_path,
    )
    [line] = done.stdout.splitlines()
    assert line.startswith(f"MixedFlaskWarning The real Flask ({REAL_FLASK}) was imported by ")
    assert "code from flask_ext_zz is registered on the framework app 'site'" in line
