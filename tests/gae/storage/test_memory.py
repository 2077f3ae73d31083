"""A 200 MB upload through the app keeps memory flat (measured in a separate server process).

The app runs in a child process on werkzeug's server; this process streams a multipart body
to it over a loopback socket, generated on the fly, so neither side ever holds the file.
The child reports its resident memory once warm and idle, and its peak (``VmHWM``, reset
through ``/proc/self/clear_refs``) after each upload. Timings are not asserted.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import google_crc32c
import pytest

from gae.emulators import StorageEmulator
from gae.storage.client import anonymous_client as anonymous_storage_client

ROOT = Path(__file__).resolve().parents[3]
MB = 1_000_000
MIB = 1024 * 1024
BOUNDARY = "memory-test-boundary"

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to measure memory"
)


def _serve(bucket: str, emulator_url: str) -> None:
    """The child: an app with one upload route, plus memory probes."""
    import logging

    from werkzeug.serving import make_server

    from bench.uploads import add_memory_probes
    from framework import Flask, jsonify
    from gae.storage import GiB, Storage, UploadPolicy

    app = Flask("memory_test")
    client = anonymous_storage_client("memory-test", emulator_url)
    store = Storage(
        app,
        bucket=bucket,
        client=client,
        policy=UploadPolicy(max_file_size=GiB, max_request_size=None),
    )

    @app.post("/upload")
    def upload() -> t.Any:
        return jsonify([record.to_dict() for record in store.receive()])

    add_memory_probes(app)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app)
    print(server.server_port, flush=True)
    server.serve_forever()


def _call(port: int, method: str, path: str) -> t.Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def _upload(port: int, size: int) -> tuple[dict[str, t.Any], str]:
    """Stream ``size`` bytes as one file part; the record, and the crc32c of what was sent."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    block = os.urandom(MIB)
    crc = google_crc32c.Checksum()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.putrequest("POST", "/upload")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
        conn.putheader("Content-Length", str(len(head) + size + len(tail)))
        conn.endheaders()
        conn.send(head)
        sent = 0
        while sent < size:
            piece = block[: size - sent]
            crc.update(piece)
            conn.send(piece)
            sent += len(piece)
        conn.send(tail)
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, body[:500]
    finally:
        conn.close()
    (record,) = json.loads(body)
    return record, base64.b64encode(crc.digest()).decode()


def test_a_200_mb_upload_through_the_app_keeps_memory_flat(gcs_emulator: StorageEmulator) -> None:
    gcs_emulator.reset()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.gae.storage.test_memory",
            gcs_emulator.bucket or "",
            gcs_emulator.url,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        _upload(port, MB)  # warm: imports, connections
        idle = _call(port, "POST", "/reset-peak")["VmRSS"]
        growth = {}
        for size_mb in (20, 200):
            record, crc = _upload(port, size_mb * MB)
            growth[size_mb] = (_call(port, "GET", "/memory")["VmHWM"] - idle) / 1024
            assert record["size"] == size_mb * MB
            assert record["checksum"] == crc
            gcs_emulator.reset()  # the emulator holds objects in memory
    finally:
        child.terminate()
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    # One chunk buffer (48 MiB by default) at most; a file held in memory would show as
    # 200 MiB here.
    print(f"peak memory growth, MiB: {growth}")
    assert growth[20] < 64, growth
    assert growth[200] < 64, growth


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2])
