"""Uploads: a file through the app (gae.storage) against a direct google-cloud-storage upload.

``.venv/bin/python -m bench.uploads`` starts a Cloud Storage emulator (gcp-storage-emulator,
in memory; ``--backend fake-gcs-server`` for the other one) and an app server in a child
process (werkzeug's server on loopback, one request at a time, ``Storage.receive()``
behind ``POST /upload``). For each size it uploads the same random file, in alternating
rounds, two ways to the same emulator:

* *direct*: ``blob.upload_from_filename()`` from this process (the library's defaults);
* *app*: a streamed ``multipart/form-data`` POST to the app, which streams the part into
  the bucket while reading it.

Throughput is file bytes over wall time, median over rounds; the ratio is app / direct.
A third column uploads directly with the app's chunk size (``blob.chunk_size``): the
emulator copies the whole partial object on every chunk it receives, so its cost grows
with (size / chunk size) and this column shows how much of a gap is that, not the app.

The app's peak memory growth is the child's highest ``VmHWM`` over all rounds minus its
``VmRSS`` once warm and idle (a fresh child per size; the peak is reset through
``/proc/self/clear_refs`` after the warm-up). Nothing here fails on a slow number.

Options: ``--sizes 20,200`` (MB), ``--rounds 3``, ``--chunk-mib N`` (the app's
``GCS_UPLOAD_CHUNK_SIZE``; default: its default, 48 MiB), ``--backend``, ``--json FILE``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from gae.storage.client import DEFAULT_CHUNK_SIZE
from gae.storage.client import anonymous_client as anonymous_storage_client

Backend = t.Literal["gcp-storage-emulator", "fake-gcs-server"]

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
MIB = 1024 * 1024
BOUNDARY = "bench-uploads-boundary-7d1f0c"
PROJECT = "bench-project"
BUCKET = "bench-bucket"
DEFAULT_BACKEND: Backend = "gcp-storage-emulator"


# -- the child: an app server --------------------------------------------------------------


def _memory_kib() -> dict[str, int]:
    values: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in {"VmRSS", "VmHWM"}:
                values[key] = int(rest.split()[0])
    return values


def build_app(chunk_size: int) -> t.Any:
    """The app under test: one upload route, plus memory probes for the parent."""
    from framework import Flask, jsonify
    from gae.storage import GiB, Storage, UploadPolicy

    app = Flask("bench_uploads")
    app.config.update(SECRET_KEY=uuid.uuid4().hex, GCS_UPLOAD_CHUNK_SIZE=chunk_size)
    storage = Storage(
        app, bucket=BUCKET, policy=UploadPolicy(max_file_size=GiB, max_request_size=None)
    )

    @app.post("/upload")
    def upload() -> t.Any:
        return jsonify([record.to_dict() for record in storage.receive()])

    add_memory_probes(app)
    return app


def add_memory_probes(app: t.Any) -> None:
    """``POST /reset-peak`` (the idle ``VmRSS``; the peak starts again from it) and
    ``GET /memory`` (``VmRSS`` and the peak, ``VmHWM``), in KiB, for a parent process."""
    import gc

    from framework import jsonify

    @app.post("/reset-peak")
    def reset_peak() -> t.Any:
        gc.collect()
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        return jsonify(_memory_kib())

    @app.get("/memory")
    def memory() -> t.Any:
        return jsonify(_memory_kib())


def serve(chunk_size: int) -> None:
    """Serve :func:`build_app` on a free loopback port; print the port, then serve."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, build_app(chunk_size))
    print(server.server_port, flush=True)
    server.serve_forever()


# -- the parent ----------------------------------------------------------------------------


class AppServer:
    """The child process serving the app."""

    def __init__(self, env: dict[str, str], chunk_size: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.uploads", "--serve", "--chunk-bytes", str(chunk_size)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"The app server did not start (printed {line!r}).")
        self.port = int(line)

    def request(self, method: str, path: str) -> t.Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path)
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def upload(self, path: Path) -> list[dict[str, t.Any]]:
        """POST ``path`` as a multipart file part, streamed from disk in 1 MiB pieces."""
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        size = path.stat().st_size
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        try:
            conn.putrequest("POST", "/upload")
            conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
            conn.putheader("Content-Length", str(len(head) + size + len(tail)))
            conn.endheaders()
            conn.send(head)
            with path.open("rb") as file:
                while block := file.read(MIB):
                    conn.send(block)
            conn.send(tail)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"Upload through the app failed: {response.status} {body!r}")
            return t.cast(list[dict[str, t.Any]], json.loads(body))
        finally:
            conn.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class SizeResult:
    """Medians over rounds for one file size (throughput in MB/s, memory in MiB)."""

    size_mb: int
    rounds: int
    direct_mb_s: float
    direct_same_chunk_mb_s: float
    app_mb_s: float
    ratio: float
    app_peak_growth_mib: float
    runs_s: dict[str, list[float]]


def _random_file(folder: Path, size: int) -> Path:
    path = folder / f"upload-{size // MB}MB.bin"
    block = os.urandom(MIB)
    with path.open("wb") as file:
        written = 0
        while written < size:
            piece = block[: size - written]
            file.write(piece)
            written += len(piece)
            # A new random block now and then, so no layer can dedupe or compress it.
            if written % (16 * MIB) == 0:
                block = os.urandom(MIB)
    return path


def _direct(bucket: t.Any, path: Path, chunk_size: int | None) -> float:
    """Seconds for ``upload_from_filename``, with the library's chunk size or ``chunk_size``."""
    blob = bucket.blob(f"direct/{uuid.uuid4().hex}", chunk_size=chunk_size)
    started = time.perf_counter()
    blob.upload_from_filename(str(path), content_type="application/octet-stream")
    return time.perf_counter() - started


def run(
    sizes_mb: list[int], rounds: int, chunk_size: int, backend: Backend = DEFAULT_BACKEND
) -> list[SizeResult]:

    from gae.emulators import StorageEmulator

    emulator = StorageEmulator(PROJECT, bucket=BUCKET, backend=backend)
    emulator.start()
    env = {
        **os.environ,
        **emulator.env,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "PYTHONPATH": str(ROOT),
    }
    try:
        client = anonymous_storage_client(PROJECT, emulator.url)
        bucket = client.bucket(BUCKET)
        results = []
        with tempfile.TemporaryDirectory(prefix="bench-uploads-") as folder:
            warm = _random_file(Path(folder), MB)
            bucket.blob("warm").upload_from_filename(str(warm))
            for size_mb in sizes_mb:
                path = _random_file(Path(folder), size_mb * MB)
                # A fresh app process per size, so one size's memory does not hide another's.
                server = AppServer(env, chunk_size)
                try:
                    # Warm-up (imports, connections), then the idle baseline memory.
                    server.upload(warm)
                    baseline = server.request("POST", "/reset-peak")["VmRSS"]
                    times: dict[str, list[float]] = {"direct": [], "same": [], "app": []}
                    peak = baseline
                    for index in range(rounds):
                        # Rotate the order, so drift over time hits every kind alike.
                        kinds = ["direct", "same", "app"]
                        kinds = kinds[index % 3 :] + kinds[: index % 3]
                        for kind in kinds:
                            emulator.reset()  # objects live in the emulator's memory
                            if kind == "direct":
                                times[kind].append(_direct(bucket, path, None))
                            elif kind == "same":
                                times[kind].append(_direct(bucket, path, chunk_size))
                            else:
                                started = time.perf_counter()
                                records = server.upload(path)
                                times[kind].append(time.perf_counter() - started)
                                if records[0]["size"] != path.stat().st_size:
                                    raise RuntimeError(f"The app stored {records[0]}.")
                                peak = max(peak, server.request("GET", "/memory")["VmHWM"])
                    emulator.reset()
                finally:
                    server.stop()
                size = path.stat().st_size
                rate = {k: size / statistics.median(v) / MB for k, v in times.items()}
                results.append(
                    SizeResult(
                        size_mb=size_mb,
                        rounds=rounds,
                        direct_mb_s=round(rate["direct"], 1),
                        direct_same_chunk_mb_s=round(rate["same"], 1),
                        app_mb_s=round(rate["app"], 1),
                        ratio=round(rate["app"] / rate["direct"], 3),
                        app_peak_growth_mib=round((peak - baseline) / 1024, 1),
                        runs_s={k: [round(x, 3) for x in v] for k, v in times.items()},
                    )
                )
                path.unlink()
        return results
    finally:
        emulator.stop()


def report(results: list[SizeResult], chunk_size: int, backend: Backend = DEFAULT_BACKEND) -> str:
    mib = chunk_size // MIB
    lines = [
        f"Upload to {backend}; app GCS_UPLOAD_CHUNK_SIZE = {mib} MiB "
        "(throughput: median of rounds)",
        "",
        f"| file | rounds | direct MB/s | direct, {mib} MiB chunks, MB/s | through app MB/s "
        "| app / direct | app peak memory growth |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.size_mb} MB | {r.rounds} | {r.direct_mb_s:.1f} | "
            f"{r.direct_same_chunk_mb_s:.1f} | {r.app_mb_s:.1f} | {r.ratio * 100:.0f} % | "
            f"{r.app_peak_growth_mib:.1f} MiB |"
        )
    lines += [
        "",
        "Goal: peak memory growth < 64 MiB at every size (tests/gae/storage/test_memory.py "
        "asserts it). app / direct is reported, not a goal: both emulators copy the whole "
        "partial object per chunk, which Cloud Storage does not.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200", help="file sizes in MB, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--chunk-mib",
        type=int,
        default=DEFAULT_CHUNK_SIZE // MIB,
        help="GCS_UPLOAD_CHUNK_SIZE in MiB (default: the app's default)",
    )
    parser.add_argument(
        "--backend",
        choices=["gcp-storage-emulator", "fake-gcs-server"],
        default=DEFAULT_BACKEND,
        help="the Cloud Storage emulator both uploads go to",
    )
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--chunk-bytes", type=int, default=8 * MIB, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.chunk_bytes)
        return 0
    chunk_size = args.chunk_mib * MIB
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = run(sizes, max(1, args.rounds), chunk_size, args.backend)
    print(report(results, chunk_size, args.backend))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
