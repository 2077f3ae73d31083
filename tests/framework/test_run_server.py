"""``app.run()`` in a real process: the interactive debugger on errors, a plain 500 without."""

from __future__ import annotations

import pathlib

from ._server import Server, free_port, serving

PROGRAM = """\
import sys

from {module} import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "index page"


@app.route("/boom")
def boom():
    raise ZeroDivisionError("deliberate failure for the debugger")


if __name__ == "__main__":
    app.run(port=int(sys.argv[1]), debug=sys.argv[2] == "on", use_reloader=False)
"""


def _start(tmp_path: pathlib.Path, debug: str) -> list[tuple[list[str], int]]:
    argvs = []
    for module in ("framework", "flask"):
        script = tmp_path / f"app_{module}.py"
        script.write_text(PROGRAM.format(module=module))
        port = free_port()
        argvs.append(([script.name, str(port), debug], port))
    return argvs


def _summary(server: Server, path: str) -> tuple[int, str, dict[str, bool]]:
    status, headers, body = server.get(path)
    text = body.decode(errors="replace")
    markers = {
        "traceback": "Traceback" in text,
        "debugger": "The debugger caught an exception in your WSGI application" in text,
        "error_text": "deliberate failure for the debugger" in text,
        "internal_server_error": "Internal Server Error" in text,
    }
    return status, headers.get("Content-Type", ""), markers


def test_debug_mode_serves_the_interactive_debugger(tmp_path: pathlib.Path) -> None:
    with serving(_start(tmp_path, "on"), tmp_path) as (ours, theirs):
        status, headers, body = ours.get("/boom")
        text = body.decode()
        assert status == 500
        assert headers["Content-Type"].startswith("text/html")
        assert "The debugger caught an exception in your WSGI application" in text
        assert "ZeroDivisionError: deliberate failure for the debugger" in text
        assert "Traceback" in text
        assert "__debugger__" in text
        # The debugger's own resources are served too.
        res_status, res_headers, _ = ours.get("/?__debugger__=yes&cmd=resource&f=style.css")
        assert res_status == 200
        assert res_headers["Content-Type"].startswith("text/css")
        assert ours.get("/")[2] == b"index page"
        assert _summary(ours, "/boom") == _summary(theirs, "/boom")
        assert "Debug mode: on" in ours.output()


def test_debug_off_gives_a_plain_500(tmp_path: pathlib.Path) -> None:
    with serving(_start(tmp_path, "off"), tmp_path) as (ours, theirs):
        status, _, body = ours.get("/boom")
        text = body.decode()
        assert status == 500
        assert "Internal Server Error" in text
        assert "Traceback" not in text
        assert "deliberate failure" not in text
        assert "__debugger__" not in text
        assert ours.get("/")[2] == b"index page"
        assert _summary(ours, "/boom") == _summary(theirs, "/boom")
        output = ours.output()
        # The error is logged on the server side, with its traceback.
        assert "ZeroDivisionError: deliberate failure for the debugger" in output
        assert "Debug mode: off" in output
