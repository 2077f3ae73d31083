"""The built-in ``run`` and ``routes`` commands, and the real ``framework`` console script."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import typing as t
import urllib.request
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import framework
import framework.cli.commands
from framework import Flask
from framework.cli import CertParamType, FlaskGroup, SeparatedPathType, cli, run_command

from ._cli_support import Workspace

APP = """\
    from framework import Flask

    app = Flask(__name__)

    @app.route("/")
    def index():
        return "served by framework"
"""


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> t.Iterator[Workspace]:
    workspace = Workspace(tmp_path, monkeypatch)
    yield workspace
    workspace.close()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, t.Any]]:
    """Replace werkzeug's run_simple in the run command with a recorder."""
    calls: list[dict[str, t.Any]] = []

    def fake_run_simple(hostname: str, port: int, application: t.Any, **kwargs: t.Any) -> None:
        calls.append({"host": hostname, "port": port, "app": application, **kwargs})

    monkeypatch.setattr(framework.cli.commands, "run_simple", fake_run_simple)
    return calls


def invoke(args: list[str], group: click.Command = cli, **kwargs: t.Any) -> Result:
    return CliRunner().invoke(group, args, **kwargs)


# -- run -------------------------------------------------------------------------------------


def test_run_defaults(ws: Workspace, served: list[dict[str, t.Any]]) -> None:
    ws.write("siteapp.py", APP)
    result = invoke(["--app", "siteapp", "run"])
    assert result.exit_code == 0, result.output
    (call,) = served
    assert (call["host"], call["port"]) == ("127.0.0.1", 5000)
    assert isinstance(call["app"], Flask)
    assert call["app"].name == "siteapp"
    assert call["use_reloader"] is False
    assert call["use_debugger"] is False
    assert call["threaded"] is True
    assert call["ssl_context"] is None
    assert call["extra_files"] is None
    assert call["exclude_patterns"] is None
    assert " * Serving app 'siteapp'" in result.stderr
    assert " * Debug mode: off" in result.stderr


def test_run_debug_turns_on_reloader_and_debugger(
    ws: Workspace, served: list[dict[str, t.Any]]
) -> None:
    ws.write("siteapp.py", APP)
    assert invoke(["--app", "siteapp", "run", "--debug"]).exit_code == 0
    assert invoke(["--app", "siteapp", "--debug", "run", "--no-reload"]).exit_code == 0
    assert invoke(["--app", "siteapp", "--debug", "run", "--no-debugger"]).exit_code == 0
    assert [(c["use_reloader"], c["use_debugger"]) for c in served] == [
        (True, True),
        (False, True),
        (True, False),
    ]
    assert served[0]["app"].debug is True


def test_run_options_and_environment(ws: Workspace, served: list[dict[str, t.Any]]) -> None:
    ws.write("siteapp.py", APP)
    extra = os.pathsep.join(["a.txt", "b.txt"])
    result = invoke(
        [
            "--app",
            "siteapp",
            "run",
            "-h",
            "0.0.0.0",
            "-p",
            "8123",
            "--without-threads",
            "--extra-files",
            extra,
            "--exclude-patterns",
            "*.tmp",
        ]
    )
    assert result.exit_code == 0, result.output
    result = invoke(
        ["--app", "siteapp", "run"], env={"FLASK_RUN_PORT": "9001", "FLASK_RUN_HOST": "::1"}
    )
    assert result.exit_code == 0, result.output
    first, second = served
    assert (first["host"], first["port"], first["threaded"]) == ("0.0.0.0", 8123, False)
    assert first["extra_files"] == ["a.txt", "b.txt"]
    assert first["exclude_patterns"] == ["*.tmp"]
    assert (second["host"], second["port"]) == ("::1", 9001)


def test_run_cert_and_key_validation(ws: Workspace, served: list[dict[str, t.Any]]) -> None:
    ws.write("siteapp.py", APP)
    cert = ws.write("cert.pem", "cert")
    key = ws.write("key.pem", "key")
    ws.write(
        "sslmod.py",
        "import ssl\ncontext = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n",
    )
    sys.path.insert(0, str(ws.root))  # where import_string looks for 'sslmod:context'

    def error(*args: str) -> str:
        result = invoke(["--app", "siteapp", "run", *args])
        assert result.exit_code == 2
        return result.stderr.strip().splitlines()[-1]

    assert error("--key", "key.pem") == (
        "Error: Invalid value for '--key': \"--cert\" must also be specified."
    )
    assert error("--cert", "cert.pem") == (
        "Error: Invalid value for '--key': Required when using \"--cert\"."
    )
    assert error("--cert", "adhoc", "--key", "key.pem") == (
        'Error: Invalid value for \'--key\': When "--cert" is "adhoc", "--key" is not used.'
    )
    assert error("--cert", "sslmod:context", "--key", "key.pem") == (
        'Error: Invalid value for \'--key\': "--cert" is an SSLContext object, "--key" is not used.'
    )
    assert error("--cert", "missing.pem") == (
        "Error: Invalid value for '--cert': File 'missing.pem' does not exist."
    )

    assert (
        invoke(["--app", "siteapp", "run", "--cert", "cert.pem", "--key", "key.pem"]).exit_code == 0
    )
    assert invoke(["--app", "siteapp", "run", "--cert", "adhoc"]).exit_code == 0
    assert invoke(["--app", "siteapp", "run", "--cert", "sslmod:context"]).exit_code == 0
    assert served[0]["ssl_context"] == (str(cert.resolve()), str(key.resolve()))
    assert served[1]["ssl_context"] == "adhoc"
    assert isinstance(served[2]["ssl_context"], ssl.SSLContext)


def test_param_types_directly(ws: Workspace) -> None:
    ws.write("exists.txt", "x")
    paths = SeparatedPathType(exists=True)
    assert paths.convert(f"exists.txt{os.pathsep}exists.txt", None, None) == [
        "exists.txt",
        "exists.txt",
    ]
    with pytest.raises(click.BadParameter, match="does not exist"):
        paths.convert(f"exists.txt{os.pathsep}nope.txt", None, None)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    assert CertParamType().convert(context, None, None) is context
    assert CertParamType().convert("ADHOC", None, None) == "adhoc"


def test_adhoc_needs_cryptography(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> t.Any:
        return None if name == "cryptography" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    # Not installed means not imported either (other tests' libraries may have loaded it).
    monkeypatch.delitem(sys.modules, "cryptography", raising=False)
    with pytest.raises(click.BadParameter, match="requires the cryptography library"):
        CertParamType().convert("adhoc", None, None)


def test_run_ignores_app_run_inside_the_module(
    ws: Workspace, served: list[dict[str, t.Any]]
) -> None:
    ws.write("selfrun.py", APP + "    app.run(port=1)\n")
    result = invoke(["--app", "selfrun", "run", "--port", "5123"])
    assert result.exit_code == 0, result.output
    assert [c["port"] for c in served] == [5123]
    assert "Ignoring a call to 'app.run()'" in result.output


def test_run_reports_load_errors(ws: Workspace, served: list[dict[str, t.Any]]) -> None:
    result = invoke(["--app", "not_a_module_zz", "run"])
    assert result.exit_code == 2
    assert "Could not import 'not_a_module_zz'" in result.stderr
    assert served == []


def test_run_in_reloader_child_serves_the_load_error(
    ws: Workspace, served: list[dict[str, t.Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    ws.write("crash.py", "raise RuntimeError('fix me')\n")
    result = invoke(["--app", "crash", "run"])
    assert result.exit_code == 0
    assert "RuntimeError: fix me" in result.stderr
    (call,) = served
    with pytest.raises(RuntimeError, match="fix me"):
        call["app"]({}, lambda *a: None)


def test_run_command_usable_in_custom_group(served: list[dict[str, t.Any]]) -> None:
    app = Flask("custom")
    group = FlaskGroup(create_app=lambda: app, add_default_commands=False)
    group.add_command(run_command)
    saved = dict(os.environ)
    try:
        assert invoke(["run", "-p", "7000"], group).exit_code == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert served[0]["app"] is app
    assert served[0]["port"] == 7000


# -- routes ----------------------------------------------------------------------------------


def _routes(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(cli, ["routes", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_routes_table() -> None:
    app = Flask("routesapp")

    @app.route("/x/<int:id>", methods=["GET", "POST"])
    def x(id: int) -> str:
        return "x"

    @app.route("/")
    def index() -> str:
        return "i"

    assert _routes(app) == (
        "Endpoint  Methods    Rule                   \n"
        "--------  ---------  -----------------------\n"
        "index     GET        /                      \n"
        "static    GET        /static/<path:filename>\n"
        "x         GET, POST  /x/<int:id>            \n"
    )
    assert "GET, HEAD, OPTIONS, POST" in _routes(app, "--all-methods")
    match_order = [line.split()[0] for line in _routes(app, "-s", "match").splitlines()[2:]]
    assert match_order == ["static", "x", "index"]


def test_routes_none_registered() -> None:
    assert _routes(Flask("empty", static_folder=None)) == "No routes were registered.\n"


def test_routes_subdomain_and_host_columns() -> None:
    app = Flask("subs", static_folder=None)
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/", subdomain="api")
    def api() -> str:
        return ""

    assert _routes(app).splitlines()[0].split() == ["Endpoint", "Methods", "Subdomain", "Rule"]

    hosts = Flask("hosts", host_matching=True, static_host="static.test")

    @hosts.route("/", host="a.test")
    def a() -> str:
        return ""

    lines = _routes(hosts, "--sort", "domain").splitlines()
    assert lines[0].split() == ["Endpoint", "Methods", "Host", "Rule"]
    assert [line.split()[2] for line in lines[2:]] == ["a.test", "static.test"]


def test_routes_bad_sort_value() -> None:
    result = Flask("r").test_cli_runner().invoke(cli, ["routes", "-s", "bogus"])
    assert result.exit_code == 2
    assert "'bogus' is not one of 'endpoint', 'methods', 'domain', 'rule', 'match'" in (
        result.stderr
    )


# -- the real console script ---------------------------------------------------------------


def _script() -> str:
    path = Path(sys.executable).with_name("framework")
    assert path.exists(), f"{path} missing: run '.venv/bin/pip install --no-deps -e .'"
    return str(path)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "WERKZEUG_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_console_script_version() -> None:
    done = subprocess.run(
        [_script(), "--version"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
    )
    assert done.returncode == 0, done.stderr
    assert f"framework {framework.__version__}" in done.stdout.splitlines()


def test_console_script_serves_over_loopback(tmp_path: Path) -> None:
    (tmp_path / "served_mod.py").write_text(
        "from framework import Flask\n"
        "app = Flask(__name__)\n"
        "@app.route('/')\n"
        "def index():\n"
        "    return 'served by framework'\n",
        encoding="utf-8",
    )
    port = _free_port()
    command = [_script(), "--app", "served_mod", "run", "--port", str(port)]
    with subprocess.Popen(
        command,
        cwd=tmp_path,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        body = None
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    url = f"http://127.0.0.1:{port}/"
                    with urllib.request.urlopen(url, timeout=2) as response:
                        body = response.read().decode()
                    break
                except OSError:
                    time.sleep(0.1)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                _, stderr = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                _, stderr = proc.communicate(timeout=10)
    assert body == "served by framework", stderr
    assert " * Serving app 'served_mod'" in stderr
    assert f"Running on http://127.0.0.1:{port}" in stderr
