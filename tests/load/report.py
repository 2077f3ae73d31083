"""A load run and its figures: requests/second, p50/p99 latency, errors, worker memory."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from .server import HOST, REQUEST_TIMEOUT, Stack
from .users import Load, Sample, VirtualUser

#: How long sign-ups (password hashing: CPU-bound) may take before a run gives up.
SIGNUP_TIMEOUT = 60.0


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


@dataclass
class Summary:
    requests: int
    seconds: float
    errors: int
    p50: float
    p99: float
    max: float
    by_kind: dict[str, int]
    latency_by_kind: dict[str, tuple[float, float]]  # kind -> (p50, p99)
    statuses: dict[int, int]
    error_samples: list[str]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def summarize(samples: list[Sample], seconds: float) -> Summary:
    latencies = [s.seconds for s in samples]
    errors = [s for s in samples if not s.ok]
    by_kind: dict[str, list[float]] = {}
    statuses: dict[int, int] = {}
    for sample in samples:
        by_kind.setdefault(sample.kind, []).append(sample.seconds)
        statuses[sample.status] = statuses.get(sample.status, 0) + 1
    return Summary(
        requests=len(samples),
        seconds=seconds,
        errors=len(errors),
        p50=percentile(latencies, 0.50),
        p99=percentile(latencies, 0.99),
        max=max(latencies, default=0.0),
        by_kind={kind: len(values) for kind, values in sorted(by_kind.items())},
        latency_by_kind={
            kind: (percentile(values, 0.50), percentile(values, 0.99))
            for kind, values in sorted(by_kind.items())
        },
        statuses=dict(sorted(statuses.items())),
        error_samples=[f"{s.kind} {s.status} {s.detail[:200]}" for s in errors[:5]],
    )


@dataclass
class RunResult:
    summary: Summary
    rss_start_kib: int
    rss_end_kib: int
    #: CPU time of the server's process tree during the measured load.
    cpu_seconds: float
    warmup: Summary
    reconnects: int
    users: list[VirtualUser]

    @property
    def rss_growth(self) -> float:
        return (self.rss_end_kib - self.rss_start_kib) / self.rss_start_kib


def run(
    stack: Stack,
    *,
    duration: float,
    warmup: float = 3.0,
    users: int = 8,
    max_requests: int = 200_000,
) -> RunResult:
    """Warm up (``warmup`` seconds, and until every user has signed up), sample the
    worker's RSS, load for ``duration`` seconds (or ``max_requests``), sample RSS again.
    Only post-warm-up requests count."""
    load = Load(stack.port, users=users, max_requests=max_requests)
    load.start()
    try:
        time.sleep(warmup)
        deadline = time.monotonic() + SIGNUP_TIMEOUT
        while not all(user.csrf for user in load.users):
            if time.monotonic() > deadline or load.crashes:
                raise RuntimeError(f"Not every user signed up within {SIGNUP_TIMEOUT:.0f} s.")
            time.sleep(0.05)
        rss_start = stack.worker_rss_kib()
        cpu_start = stack.cpu_seconds()
        measured_from = time.monotonic()
        while time.monotonic() < measured_from + duration and load.running:
            time.sleep(0.05)  # (users stop early once the request budget is spent)
    finally:
        load.stop()
        load.join(timeout=2 * REQUEST_TIMEOUT)
    rss_end = stack.worker_rss_kib()
    cpu = stack.cpu_seconds() - cpu_start
    samples = load.recorder.snapshot()
    measured = [s for s in samples if s.started >= measured_from]
    early = [s for s in samples if s.started < measured_from]
    return RunResult(
        summary=summarize(measured, load.finished - measured_from),
        rss_start_kib=rss_start,
        rss_end_kib=rss_end,
        cpu_seconds=cpu,
        warmup=summarize(early, measured_from - load.started),
        reconnects=load.recorder.reconnects,
        users=load.users,
    )


def describe(result: RunResult, stack: Stack, users: int) -> str:
    """The figures of a run, as the report prints them."""
    s = result.summary
    command = " ".join(stack.argv[1:])
    kinds = ", ".join(f"{kind} {count}" for kind, count in s.by_kind.items())
    per_kind = ", ".join(
        f"{kind} {p50 * 1000:.0f}/{p99 * 1000:.0f}"
        for kind, (p50, p99) in s.latency_by_kind.items()
    )
    lines = [
        f"server: {Path(stack.argv[0]).name} {command}",
        f"load: {users} keep-alive virtual users on {HOST}, {s.seconds:.1f} s after "
        f"{result.warmup.seconds:.1f} s of warm-up ({result.warmup.requests} requests)",
        f"requests: {s.requests} ({kinds})",
        f"throughput: {s.rps:.1f} requests/s",
        f"latency: p50 {s.p50 * 1000:.1f} ms, p99 {s.p99 * 1000:.1f} ms, max {s.max * 1000:.1f} ms",
        f"  p50/p99 ms by request: {per_kind}",
        f"errors: {s.errors} (statuses {s.statuses}; stale keep-alive resends {result.reconnects})",
        f"server CPU: {result.cpu_seconds / max(1, s.requests) * 1e6:,.0f} µs per request "
        "(the server's whole process tree, during the measured load)",
        f"worker RSS: {result.rss_start_kib / 1024:.1f} MiB after warm-up -> "
        f"{result.rss_end_kib / 1024:.1f} MiB at the end ({result.rss_growth:+.1%})",
    ]
    lines.extend(f"  error: {sample}" for sample in s.error_samples)
    return "\n".join(lines)
