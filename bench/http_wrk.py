"""Drive a server with wrk (Debian's ``wrk``): one Lua script per request spec, results as
JSON printed by the script's ``done`` hook.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.scenarios import RequestSpec

MARK = "BENCH-JSON "

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,'
    .. '"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\\n',
    "MARK", summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
""".replace("MARK", MARK)


_PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ")


def lua_string(value: str | bytes) -> str:
    """``value`` as a Lua string literal (every byte outside ASCII letters, digits and space
    as ``\\ddd``)."""
    data = value.encode() if isinstance(value, str) else value
    return '"' + "".join(chr(b) if b in _PLAIN else f"\\{b:03d}" for b in data) + '"'


def script(spec: RequestSpec) -> str:
    """The Lua script that makes wrk send ``spec`` and print its results as JSON."""
    lines = [f"wrk.method = {lua_string(spec.method)}"]
    if spec.data is not None:
        lines.append(f"wrk.body = {lua_string(spec.data)}")
    if spec.content_type is not None:
        lines.append(f'wrk.headers["Content-Type"] = {lua_string(spec.content_type)}')
    for name, value in spec.headers.items():
        lines.append(f"wrk.headers[{lua_string(name)}] = {lua_string(value)}")
    return "\n".join(lines) + "\n" + _DONE


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    #: Socket errors and timeouts (a server that dropped or stalled connections).
    socket_errors: int
    #: Responses with a status other than 2xx/3xx.
    non_2xx: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (make bench-http does it).")
    return found


def run_wrk(
    port: int,
    spec: RequestSpec,
    script_path: Path,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
) -> WrkResult:
    """Load ``127.0.0.1:port`` with ``spec`` for ``seconds`` over ``connections``."""
    proc = subprocess.run(
        [
            wrk_path(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script_path),
            f"http://127.0.0.1:{port}{spec.path}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}")
    data = json.loads(line[len(MARK) :])
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        non_2xx=data["status"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )


def fetch(port: int, spec: RequestSpec) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send ``spec`` once over HTTP: ``(status, headers, body)``."""
    headers = dict(spec.headers)
    if spec.content_type is not None:
        headers["Content-Type"] = spec.content_type
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(spec.method, spec.path, body=spec.data, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()
