"""Benchmark ``framework`` against Flask in one process and print Markdown tables.

Run from the repository root, either way::

    .venv/bin/python -m bench.run [--quick] [--scenario NAME ...] [--rounds N] [--json PATH]
    .venv/bin/python bench/run.py ...
    .venv/bin/python -m bench.run --gae [...]    # gae.wrap(app) vs the bare app instead

Every number is reported as a *speedup*: Flask's time divided by framework's time (for
throughput, framework req/s divided by Flask req/s). Above 1 means framework is faster.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import platform
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__ in (None, ""):  # run as ``python bench/run.py``: make ``bench`` importable
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import coldstart
from bench.compare import ScenarioResult, Settings, SideBuilder, run_sides
from bench.driver import check, make_caller, warm_up
from bench.scenarios import SCENARIOS

BASELINE = "flask"
COLDSTART = "coldstart"


# Many short alternating slices beat a few long ones on a noisy machine: a pair of adjacent
# slices sees nearly the same noise, so the median of per-pair ratios is stable to ~1-2 %
# where the ratio of medians of 5 x 0.4 s rounds swung by 10-15 % (measured: Flask vs Flask).
DEFAULT = Settings(rounds=80, slice_s=0.025, cold_runs=10)
# Quick: 7 scenarios x 16 rounds x 2 frameworks x (20 ms + ~9 ms of gc.collect) + cold starts,
# about 10 s in all.
QUICK = Settings(rounds=16, slice_s=0.02, cold_runs=4)


def run_scenario(
    name: str, modules: dict[str, ModuleType | str], settings: Settings
) -> ScenarioResult:
    """Check ``name`` on every module, then time it in alternating rounds.

    ``modules`` maps a module name to the imported module, or to the import error message.
    """
    builders: dict[str, SideBuilder] = {}
    problems: dict[str, list[str]] = {}
    for mod_name, module in modules.items():
        if isinstance(module, str):
            problems[mod_name] = [module]
        else:
            builders[mod_name] = functools.partial(SCENARIOS[name], module)
    if problems:  # a module that cannot be imported: nothing to compare against
        return ScenarioResult(name, problems=problems, baseline=BASELINE)
    return run_sides(name, builders, settings, baseline=BASELINE)


def import_module(name: str) -> ModuleType | str:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        return f"could not import {name!r}: {type(exc).__name__}: {exc}"


def _speedup(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs > 0 else "n/a"


def _x(value: float) -> str:
    return f"{value:.2f}x"


def throughput_table(results: list[ScenarioResult], candidate: str, s: Settings) -> list[str]:
    lines = [
        f"### Throughput ({s.rounds} interleaved rounds of {s.slice_s:g} s per framework)",
        "",
        f"speedup = {candidate} req/s / Flask req/s (= Flask time / {candidate} time), the "
        "median over rounds of each round's ratio; > 1 means "
        f"{candidate} is faster. IQR = middle half of the per-round ratios (noise). "
        "req/s = median over rounds.",
        "",
        f"| scenario | Flask req/s | {candidate} req/s | speedup | IQR | check |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        if r.ok:
            low, high = r.spread(candidate)
            lines.append(
                f"| {r.name} | {r.median(BASELINE):,.0f} | {r.median(candidate):,.0f} | "
                f"{_x(r.speedup(candidate))} | {low:.2f}-{high:.2f} | ok |"
            )
        else:
            lines.append(f"| {r.name} | - | - | - | - | FAIL |")
    return lines


def coldstart_table(cold: coldstart.ColdStartResult, candidate: str) -> list[str]:
    lines = [
        f"### Cold start (fresh interpreter, median of {cold.runs} runs, interleaved)",
        "",
        f"speedup = Flask ms / {candidate} ms; > 1 means {candidate} starts faster. "
        "'process wall' includes interpreter start-up, the same for both.",
        "",
    ]
    if cold.error is not None:
        return [*lines, f"FAIL: {cold.error}"]
    flask_ms, cand_ms = cold.median_ms(BASELINE), cold.median_ms(candidate)
    lines += [
        f"| phase | Flask ms | {candidate} ms | speedup |",
        "| --- | ---: | ---: | ---: |",
    ]
    for phase, f_ms, c_ms in zip(coldstart.PHASES, flask_ms, cand_ms, strict=True):
        lines.append(f"| {phase} | {f_ms:.1f} | {c_ms:.1f} | {_speedup(f_ms, c_ms)} |")
    return lines


def to_json(
    results: list[ScenarioResult],
    cold: coldstart.ColdStartResult | None,
    candidate: str,
    settings: Settings,
    ok: bool,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "baseline": BASELINE,
        "candidate": candidate,
        "python": platform.python_version(),
        "rounds": settings.rounds,
        "slice_s": settings.slice_s,
        "ok": ok,
        "scenarios": [
            {
                "name": r.name,
                "ok": r.ok,
                "problems": r.problems,
                "rates": r.rates,
                "median_rps": {m: r.median(m) for m in r.rates} if r.ok else None,
                "speedup": r.speedup(candidate) if r.ok else None,
                "speedup_iqr": r.spread(candidate) if r.ok else None,
            }
            for r in results
        ],
    }
    if cold is not None:
        cold_data: dict[str, Any] = {"runs": cold.runs, "error": cold.error}
        if cold.error is None:
            cold_data["median_ms"] = {
                m: dict(zip(coldstart.PHASES, cold.median_ms(m), strict=True)) for m in cold.samples
            }
        data["coldstart"] = cold_data
    return data


def profile(name: str, module_name: str, requests: int) -> int:
    """Print the top functions by own time for ``requests`` requests of scenario ``name``."""
    import cProfile
    import pstats

    module = import_module(module_name)
    if isinstance(module, str):
        print(module, file=sys.stderr)
        return 1
    app, spec = SCENARIOS[name](module)
    problems = check(app, spec)
    if problems:
        print(f"{name} on {module_name}: {'; '.join(problems)}", file=sys.stderr)
        return 1
    call = make_caller(app, spec)
    warm_up(call)

    def loop() -> None:
        for _ in range(requests):
            call()

    profiler = cProfile.Profile()
    profiler.runcall(loop)
    print(f"# {name} on {module_name}: {requests} requests, top 15 by tottime")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)
    return 0


def _gae_names() -> tuple[list[str], list[str]]:
    """The ``--gae`` mode's scenario and profile names (imports framework and gae)."""
    from bench import gae_run
    from bench.gae_scenarios import COMPARISONS

    return [*COMPARISONS, gae_run.COLDSTART], [*COMPARISONS, gae_run.NDB_CONTEXT]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [*SCENARIOS, COLDSTART]
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Requests/second and cold start of framework vs Flask, interleaved; "
        "with --gae, of the App Engine adapter vs the bare app.",
    )
    parser.add_argument("--quick", action="store_true", help="a ~10 s smoke run")
    parser.add_argument(
        "--gae",
        action="store_true",
        help="compare gae.wrap(app) with the bare app instead of framework with Flask "
        "(starts the Datastore emulator for gae-ndb-get and the session-* rows)",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(names)}; with --gae: "
        "gae-hello, gae-hello-on-gae, gae-ndb-context-cost, gae-ndb-context, gae-ndb-get, "
        "session-read, session-write, session-untouched, "
        "coldstart",
    )
    parser.add_argument("--rounds", type=int, help="timed rounds per side and scenario")
    parser.add_argument("--slice", type=float, dest="slice_s", help="seconds per round")
    parser.add_argument("--cold-runs", type=int, help="cold starts per framework")
    parser.add_argument(
        "--json", metavar="PATH", help="also write results as JSON to PATH ('-': stdout only)"
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="instead of comparing, cProfile the candidate on one scenario (with --gae: a "
        "gae scenario, or ndb-context for a bare ndb context)",
    )
    parser.add_argument("--profile-requests", type=int, help=argparse.SUPPRESS)
    # Hidden: compare another module against Flask (--self-test: Flask against itself).
    parser.add_argument("--candidate", default="framework", help=argparse.SUPPRESS)
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for opt in ("rounds", "cold_runs", "profile_requests"):
        value = getattr(args, opt)
        if value is not None and value < 1:
            parser.error(f"--{opt.replace('_', '-')} must be at least 1, got {value}")
    if args.slice_s is not None and args.slice_s <= 0:
        parser.error(f"--slice must be positive, got {args.slice_s}")
    if args.gae and (args.self_test or args.candidate != "framework"):
        parser.error("--gae compares gae.wrap(app) with the bare app: drop --self-test/--candidate")
    names, profiles = _gae_names() if args.gae else (names, list(SCENARIOS))
    for name in args.scenario or []:
        if name not in names:
            parser.error(f"unknown scenario {name!r}; choose from {', '.join(names)}")
    if args.profile is not None and args.profile not in profiles:
        parser.error(f"unknown --profile {args.profile!r}; choose from {', '.join(profiles)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = QUICK if args.quick else DEFAULT
    settings = Settings(
        rounds=args.rounds or base.rounds,
        slice_s=args.slice_s or base.slice_s,
        cold_runs=args.cold_runs or base.cold_runs,
    )
    if args.gae:
        from bench import gae_run

        return gae_run.main(args, settings)
    candidate: str = BASELINE if args.self_test else args.candidate
    if args.profile:
        return profile(args.profile, candidate, args.profile_requests or 20_000)

    selected: list[str] = args.scenario or [*SCENARIOS, COLDSTART]
    # In a self-test both sides are the same module; key them apart for reporting.
    label = f"{candidate} (self-test)" if candidate == BASELINE else candidate
    modules = {BASELINE: import_module(BASELINE), label: import_module(candidate)}

    results: list[ScenarioResult] = []
    for name in SCENARIOS:
        if name in selected:
            print(f"running {name} ...", file=sys.stderr)
            results.append(run_scenario(name, modules, settings))
    cold = None
    if COLDSTART in selected:
        print(f"running {COLDSTART} ...", file=sys.stderr)
        cold = coldstart.measure({BASELINE: BASELINE, label: candidate}, settings.cold_runs)

    ok = all(r.ok for r in results) and (cold is None or cold.error is None)
    lines: list[str] = []
    if results:
        lines += throughput_table(results, label, settings)
    if cold is not None:
        lines += ["", *coldstart_table(cold, label)] if lines else coldstart_table(cold, label)
    lines.append("")
    if ok:
        lines.append("All correctness checks passed.")
    else:
        lines.append("Correctness checks FAILED:")
        for r in results:
            for mod_name, problems in r.problems.items():
                lines += [f"- {r.name} on {mod_name}: {p}" for p in problems]
        if cold is not None and cold.error is not None:
            lines.append(f"- {COLDSTART}: {cold.error}")

    data = to_json(results, cold, label, settings, ok)
    if args.json == "-":
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(lines))
        if args.json:
            Path(args.json).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
