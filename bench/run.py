"""Benchmark ``framework`` against Flask in one process and print Markdown tables.

Run from the repository root, either way::

    .venv/bin/python -m bench.run [--quick] [--scenario NAME ...] [--rounds N] [--json PATH]
    .venv/bin/python bench/run.py ...

Every number is reported as a *speedup*: Flask's time divided by framework's time (for
throughput, framework req/s divided by Flask req/s). Above 1 means framework is faster.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__ in (None, ""):  # run as ``python bench/run.py``: make ``bench`` importable
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import coldstart
from bench.driver import check, make_caller, time_slice, warm_up
from bench.scenarios import SCENARIOS

BASELINE = "flask"
COLDSTART = "coldstart"


@dataclass(frozen=True)
class Settings:
    rounds: int
    slice_s: float
    cold_runs: int


# Many short alternating slices beat a few long ones on a noisy machine: a pair of adjacent
# slices sees nearly the same noise, so the median of per-pair ratios is stable to ~1-2 %
# where the ratio of medians of 5 x 0.4 s rounds swung by 10-15 % (measured: Flask vs Flask).
DEFAULT = Settings(rounds=80, slice_s=0.025, cold_runs=10)
# Quick: 7 scenarios x 16 rounds x 2 frameworks x (20 ms + ~9 ms of gc.collect) + cold starts,
# about 10 s in all.
QUICK = Settings(rounds=16, slice_s=0.02, cold_runs=4)


@dataclass
class ScenarioResult:
    name: str
    #: Problems found by the correctness check, per module name (empty lists: all good).
    problems: dict[str, list[str]] = field(default_factory=dict)
    #: Requests/second of every round, per module name.
    rates: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def median(self, module: str) -> float:
        return statistics.median(self.rates[module])

    def ratios(self, candidate: str) -> list[float]:
        """Candidate req/s over Flask req/s, per round (each round is an adjacent pair)."""
        return [c / f for f, c in zip(self.rates[BASELINE], self.rates[candidate], strict=True)]

    def speedup(self, candidate: str) -> float:
        return statistics.median(self.ratios(candidate))

    def spread(self, candidate: str) -> tuple[float, float]:
        """The interquartile range of the per-round ratios (both ends equal for one round)."""
        ratios = self.ratios(candidate)
        if len(ratios) < 2:
            return ratios[0], ratios[0]
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        return q1, q3


def run_scenario(
    name: str, modules: dict[str, ModuleType | str], settings: Settings
) -> ScenarioResult:
    """Check ``name`` on every module, then time it in alternating rounds.

    ``modules`` maps a module name to the imported module, or to the import error message.
    """
    result = ScenarioResult(name)
    callers = {}
    for mod_name, module in modules.items():
        if isinstance(module, str):
            result.problems[mod_name] = [module]
            continue
        try:
            app, spec = SCENARIOS[name](module)
        except Exception as exc:
            result.problems[mod_name] = [f"building the app raised {type(exc).__name__}: {exc}"]
            continue
        result.problems[mod_name] = check(app, spec)
        callers[mod_name] = make_caller(app, spec)
    if not result.ok:
        return result

    batch = {m: warm_up(call) for m, call in callers.items()}
    order = list(callers)
    result.rates = {m: [] for m in order}
    for i in range(settings.rounds):
        # A B B A A B ...: alternating, and each module goes first equally often.
        for m in order if i % 2 == 0 else order[::-1]:
            result.rates[m].append(time_slice(callers[m], settings.slice_s, batch[m]).rate)
    return result


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [*SCENARIOS, COLDSTART]
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Requests/second and cold start of framework vs Flask, interleaved.",
    )
    parser.add_argument("--quick", action="store_true", help="a ~10 s smoke run")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=names,
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(names)}",
    )
    parser.add_argument("--rounds", type=int, help="timed rounds per framework and scenario")
    parser.add_argument("--slice", type=float, dest="slice_s", help="seconds per round")
    parser.add_argument("--cold-runs", type=int, help="cold starts per framework")
    parser.add_argument(
        "--json", metavar="PATH", help="also write results as JSON to PATH ('-': stdout only)"
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        choices=list(SCENARIOS),
        help="instead of comparing, cProfile the candidate on one scenario",
    )
    parser.add_argument("--profile-requests", type=int, default=20_000, help=argparse.SUPPRESS)
    # Hidden: compare another module against Flask (--self-test: Flask against itself).
    parser.add_argument("--candidate", default="framework", help=argparse.SUPPRESS)
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for opt in ("rounds", "cold_runs"):
        value = getattr(args, opt)
        if value is not None and value < 1:
            parser.error(f"--{opt.replace('_', '-')} must be at least 1, got {value}")
    if args.slice_s is not None and args.slice_s <= 0:
        parser.error(f"--slice must be positive, got {args.slice_s}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    candidate: str = BASELINE if args.self_test else args.candidate
    if args.profile:
        return profile(args.profile, candidate, args.profile_requests)

    base = QUICK if args.quick else DEFAULT
    settings = Settings(
        rounds=args.rounds or base.rounds,
        slice_s=args.slice_s or base.slice_s,
        cold_runs=args.cold_runs or base.cold_runs,
    )
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
