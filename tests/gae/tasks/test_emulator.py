"""The Cloud Tasks emulator harness: the real gcloud-tasks-emulator, on loopback only."""

from __future__ import annotations

import socket
import threading
import typing as t
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from google.api_core import exceptions

from gae.emulators.base import HOST
from gae.emulators.tasks import TasksEmulator


class Recorder(BaseHTTPRequestHandler):
    received: t.ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.received.append((self.path, headers, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: t.Any) -> None:
        pass


@pytest.fixture
def target() -> t.Iterator[HTTPServer]:
    Recorder.received.clear()
    server = HTTPServer((HOST, 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_emulator_delivers_app_engine_tasks_with_task_headers(
    target: HTTPServer, tmp_path: t.Any
) -> None:
    emulator = TasksEmulator("demo", target=f"{HOST}:{target.server_port}", log_dir=tmp_path)
    emulator.start()
    try:
        # Listening on loopback only: another local address of this machine is refused.
        with socket.socket() as probe:
            probe.settimeout(1)
            assert probe.connect_ex(("127.0.0.2", emulator.port)) != 0
        client = emulator.client()
        parent = emulator.queue_path("default")
        client.create_task(
            parent=parent,
            task={
                "name": f"{parent}/tasks/hello",
                "app_engine_http_request": {"relative_uri": "/work?x=1", "body": b"payload"},
            },
        )
        with pytest.raises(exceptions.AlreadyExists):
            client.create_task(
                parent=parent,
                task={
                    "name": f"{parent}/tasks/hello",
                    "app_engine_http_request": {"relative_uri": "/work"},
                },
            )
        deadline = 100
        while not Recorder.received and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
        ((path, headers, body),) = Recorder.received
        assert (path, body) == ("/work?x=1", b"payload")
        assert headers["x-appengine-taskname"] == "hello"
        assert headers["x-appengine-queuename"].endswith("/queues/default")
        assert headers["x-appengine-taskretrycount"] == "0"
        assert headers["x-gae-tasks-emulator-token"] == emulator.token
        assert emulator.env["CLOUD_TASKS_EMULATOR_HOST"] == f"{HOST}:{emulator.port}"
    finally:
        emulator.stop()
    assert emulator.process is not None and emulator.process.poll() is not None
