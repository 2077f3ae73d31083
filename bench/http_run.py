"""``python -m bench.http_run`` (``make bench-http``): the scenarios over real HTTP.

Each *side* is one framework on one server (:mod:`bench.http_servers`), started on a free
loopback port; wrk (:mod:`bench.http_wrk`) loads it with 8 connections, App Engine's
``max_concurrent_requests``. All sides of a scenario run at once and are timed in
interleaved rounds (A B C D, D C B A, ...); the ratio of a side to the baseline is the
median of the per-round ratios, with their interquartile range as the noise, and an A/A
side (a second copy of the baseline) shows how far two identical servers drift apart.
CPU per request is the CPU time the kernel accounted to the server's whole process tree
during a round, divided by the requests wrk completed in it. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.http_servers import (
    FRAMEWORK_VAR,
    ROOT,
    SCENARIO_VAR,
    SERVERS,
    Memory,
    RunningServer,
    Server,
    app_yaml_server,
)
from bench.http_wrk import fetch, run_wrk, script, wrk_path
from bench.scenarios import SCENARIOS, RequestSpec
from gae.emulators.processes import free_port

#: The sample-style scenarios of the headline table, in report order.
HEADLINE_SCENARIOS = ("hello", "json", "template", "session", "404", "form")
#: Goals from the issue: ours on app.yaml's entrypoint vs Flask on gunicorn.
GOALS = {"hello": 3.0, "json": 3.0}
DEFAULT_GOAL = 2.0
AA = " (A/A)"


@dataclass(frozen=True)
class Side:
    label: str
    framework: str
    server: Server


@dataclass
class Sample:
    rate: float
    p99_ms: float
    cpu_us: float
    requests: int
    socket_errors: int
    non_2xx: int


@dataclass
class SideResult:
    side: Side
    samples: list[Sample] = field(default_factory=list)
    memory: Memory | None = None
    problems: list[str] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.samples)


@dataclass
class ScenarioRun:
    scenario: str
    sides: list[SideResult]

    @property
    def baseline(self) -> SideResult:
        return self.sides[0]

    def ratios(self, result: SideResult) -> list[float]:
        return [
            s.rate / b.rate
            for b, s in zip(self.baseline.samples, result.samples, strict=True)
            if b.rate
        ]


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def check(port: int, spec: RequestSpec) -> list[str]:
    status, headers, body = fetch(port, spec)
    return spec.problems(status, headers, body)


def run_scenario(
    scenario: str, sides: list[Side], args: argparse.Namespace, workdir: Path
) -> ScenarioRun:
    """Start every side, check it, warm it up, time it in interleaved rounds, stop it."""
    specs = {
        fw: SCENARIOS[scenario](importlib.import_module(fw))[1]
        for fw in {s.framework for s in sides}
    }
    results = [SideResult(side) for side in sides]
    running: dict[int, RunningServer] = {}
    scripts: dict[str, Path] = {}
    for fw, spec in specs.items():
        scripts[fw] = workdir / f"{scenario}-{fw}.lua"
        scripts[fw].write_text(script(spec), encoding="utf-8")
    try:
        for i, result in enumerate(results):
            side, spec = result.side, specs[result.side.framework]
            env = {
                **os.environ,
                FRAMEWORK_VAR: side.framework,
                SCENARIO_VAR: scenario,
                "PYTHONPATH": str(ROOT),
            }
            log = workdir / f"{scenario}-{i}.log"
            server = RunningServer(side.server, free_port(), env, log)
            running[i] = server
            try:
                server.wait_ready(spec.path)
                result.problems += check(server.port, spec)
            except (RuntimeError, OSError) as error:
                result.problems.append(str(error))
        live = [i for i, r in enumerate(results) if not r.problems]
        if 0 not in live:
            return ScenarioRun(scenario, results)
        for i in live:  # warm-up, not recorded
            load(running[i], specs[results[i].side.framework], scripts, results[i], args.warmup)
        for round_no in range(args.rounds):
            order = live if round_no % 2 == 0 else live[::-1]
            for i in order:
                result = results[i]
                sample = load(
                    running[i], specs[result.side.framework], scripts, result, args.seconds
                )
                result.samples.append(sample)
        for i in live:
            result = results[i]
            result.memory = running[i].memory()
            result.problems += [
                f"after the load: {p}" for p in check(running[i].port, specs[result.side.framework])
            ]
            errors = sum(s.socket_errors for s in result.samples)
            if errors:
                result.problems.append(f"{errors} socket errors or timeouts under load")
            expect_non_2xx = specs[result.side.framework].expect_status >= 400
            wrong = sum(
                s.requests - s.non_2xx if expect_non_2xx else s.non_2xx for s in result.samples
            )
            if wrong:
                result.problems.append(f"{wrong} responses with an unexpected status under load")
    finally:
        for server in running.values():
            server.stop()
    return ScenarioRun(scenario, results)


def load(
    server: RunningServer,
    spec: RequestSpec,
    scripts: dict[str, Path],
    result: SideResult,
    seconds: float,
) -> Sample:
    before = server.cpu_seconds()
    out = run_wrk(server.port, spec, scripts[result.side.framework], seconds=seconds, connections=8)
    cpu = server.cpu_seconds() - before
    return Sample(
        rate=out.rate,
        p99_ms=out.p99_ms,
        cpu_us=cpu / max(1, out.requests) * 1e6,
        requests=out.requests,
        socket_errors=out.socket_errors,
        non_2xx=out.non_2xx,
    )


# -- report ----------------------------------------------------------------------------------


def side_table(run: ScenarioRun) -> list[str]:
    lines = [
        f"#### {run.scenario}",
        "",
        "| side | req/s | ratio | IQR | p99 ms | CPU µs/req | worker RSS MiB "
        "| all processes PSS MiB | check |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in run.sides:
        label = result.side.label
        if not result.samples:
            lines.append(f"| {label} | - | - | - | - | - | - | - | FAIL |")
            continue
        q1, q2, q3 = quartiles(run.ratios(result))
        mem = result.memory
        lines.append(
            f"| {label} | {result.median('rate'):,.0f} | {q2:.2f}x | {q1:.2f}-{q3:.2f} | "
            f"{result.median('p99_ms'):.1f} | {result.median('cpu_us'):,.0f} | "
            f"{mem.worker_rss_mib if mem else 0:.1f} | {mem.total_pss_mib if mem else 0:.1f} | "
            f"{'ok' if not result.problems else 'FAIL'} |"
        )
    return [*lines, ""]


def headline_table(runs: list[ScenarioRun], ours: str, theirs: str, aa: str) -> list[str]:
    """One row per scenario: ours on app.yaml's entrypoint against Flask on gunicorn."""
    lines = [
        f"| scenario | {theirs} req/s | {ours} req/s | ratio (IQR) | goal | A/A (IQR) "
        "| p99 ms theirs / ours | CPU µs/req theirs / ours |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        by = {r.side.label: r for r in run.sides}
        base, cand, control = by[theirs], by.get(ours), by.get(aa)
        if cand is None or not cand.samples or not base.samples:
            lines.append(f"| {run.scenario} | - | - | FAIL | | | | |")
            continue
        q1, q2, q3 = quartiles(run.ratios(cand))
        aa_text = "-"
        if control is not None and control.samples:
            a1, a2, a3 = quartiles(run.ratios(control))
            aa_text = f"{a2:.2f} ({a1:.2f}-{a3:.2f})"
        goal = GOALS.get(run.scenario, DEFAULT_GOAL)
        lines.append(
            f"| {run.scenario} | {base.median('rate'):,.0f} | {cand.median('rate'):,.0f} | "
            f"**{q2:.2f}x** ({q1:.2f}-{q3:.2f}) | {goal:g}x | {aa_text} | "
            f"{base.median('p99_ms'):.1f} / {cand.median('p99_ms'):.1f} | "
            f"{base.median('cpu_us'):,.0f} / {cand.median('cpu_us'):,.0f} |"
        )
    return [*lines, ""]


def machine() -> str:
    load1, load5, _ = os.getloadavg()
    versions = []
    for dist in ("flask", "gunicorn", "granian", "pyuwsgi", "bjoern", "fastwsgi", "pyruvate"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    return (
        f"{os.cpu_count()} cores ({platform.machine()}), load average {load1:.1f} / "
        f"{load5:.1f} at the end, Python {platform.python_version()}, "
        + ", ".join(versions)
        + f", {os.popen(wrk_path() + ' --version 2>&1').read().split(' [')[0].strip()}"
    )


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.http_run", description=__doc__)
    parser.add_argument(
        "--servers",
        action="store_true",
        help="compare WSGI servers (framework on each vs on gunicorn gthread) "
        "instead of the headline (framework on app.yaml's entrypoint vs Flask on gunicorn)",
    )
    parser.add_argument("--server", action="append", choices=sorted(SERVERS), help="with --servers")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=1.0, help="per side and round")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per side")
    parser.add_argument("--quick", action="store_true", help="2 rounds: a smoke run")
    parser.add_argument("--json", help="also write the raw numbers here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 2
    return args


def plan(args: argparse.Namespace) -> tuple[list[str], list[Side]]:
    gunicorn = SERVERS["gunicorn-gthread"]
    if args.servers:
        names = args.server or [n for n in SERVERS if n != "gunicorn-gthread"]
        sides = [
            Side("framework on gunicorn gthread", "framework", gunicorn),
            Side("framework on gunicorn gthread" + AA, "framework", gunicorn),
            *(Side(f"framework on {SERVERS[n].label}", "framework", SERVERS[n]) for n in names),
        ]
        return args.scenario or ["hello", "json"], sides
    return args.scenario or list(HEADLINE_SCENARIOS), [
        Side("Flask on gunicorn", "flask", gunicorn),
        Side("Flask on gunicorn" + AA, "flask", gunicorn),
        Side("framework on gunicorn", "framework", gunicorn),
        Side("framework on app.yaml", "framework", app_yaml_server()),
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios, sides = plan(args)
    skipped = [f"{s.label}: {s.server.missing()}" for s in sides if s.server.missing()]
    sides = [s for s in sides if not s.server.missing()]
    wrk_path()
    started = time.monotonic()
    runs: list[ScenarioRun] = []
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        for scenario in scenarios:
            print(f"running {scenario} on {len(sides)} sides ...", file=sys.stderr)
            runs.append(run_scenario(scenario, sides, args, Path(tmp)))
    elapsed = time.monotonic() - started
    ok = all(not r.problems for run in runs for r in run.sides)
    lines = [
        f"### Over HTTP: wrk, 8 connections, {args.rounds} interleaved rounds of "
        f"{args.seconds:g} s per side (after {args.warmup:g} s warm-up)",
        "",
        f"Machine: {machine()}. Run took {elapsed:.0f} s.",
        "",
        "ratio = side req/s / first side's req/s, median over rounds of each round's ratio; "
        "IQR = middle half of the per-round ratios. (A/A) is a second copy of the first side: "
        "its ratio is the noise. CPU µs/req = CPU time of the server's whole process tree "
        "during a round / requests; p99 and CPU are medians over rounds; memory is read "
        "after the last round.",
        "",
    ]
    if not args.servers:
        lines += headline_table(
            runs, "framework on app.yaml", "Flask on gunicorn", "Flask on gunicorn" + AA
        )
        lines.append(f"app.yaml's entrypoint: {app_yaml_server().label.split(': ', 1)[1]}")
        lines.append("")
    for run in runs:
        lines += side_table(run)
    for line in skipped:
        lines.append(f"- skipped {line}")
    for run in runs:
        for r in run.sides:
            lines += [f"- FAIL {run.scenario}, {r.side.label}: {p}" for p in r.problems]
    print("\n".join(lines))
    if args.json:
        data: dict[str, Any] = {
            "machine": machine(),
            "args": vars(args),
            "ok": ok,
            "runs": [
                {
                    "scenario": run.scenario,
                    "sides": [
                        {
                            "label": r.side.label,
                            "framework": r.side.framework,
                            "server": r.side.server.name,
                            "samples": [asdict(s) for s in r.samples],
                            "memory": asdict(r.memory) if r.memory else None,
                            "problems": r.problems,
                        }
                        for r in run.sides
                    ],
                }
                for run in runs
            ],
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
