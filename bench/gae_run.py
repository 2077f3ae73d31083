"""``python -m bench.run --gae``: the App Engine adapter against the bare app.

Each comparison in ``bench.gae_scenarios`` is checked and timed in interleaved rounds with
the same statistics as the Flask comparison (median per-round ratio and its IQR); a cold
start probe times ``import gae`` and ``gae.wrap(app)`` in fresh interpreters.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import (
    coldstart,
    gae_sessions,  # noqa: F401  (registers the session comparisons)
)
from bench.compare import ScenarioResult, Settings, run_sides
from bench.driver import check, make_caller, warm_up
from bench.gae_scenarios import (
    AUDIT,
    COMPARISONS,
    Comparison,
    Skip,
    counting_rpcs,
    one_emulator,
)
from bench.scenarios import RequestSpec

BASELINE = "baseline"
CANDIDATE = "candidate"
COLDSTART = "coldstart"
#: The pseudo-scenario ``--profile ndb-context``: entering and leaving a context, alone.
NDB_CONTEXT = "ndb-context"

CHILD = Path(__file__).resolve().with_name("coldstart_gae_child.py")
#: Phases of the cold-start table, in report order.
COLD_PHASES = (
    "import framework",
    "build hello app",
    "import gae",
    "gae.wrap(app)",
    "import gae + gae.wrap(app)",
    "first request (wrapped)",
    "process wall",
)
#: Variables that would make the cold-start child believe it runs on App Engine or against
#: an emulator; removed for it, with those that distort timing.
_CHILD_ENV_PREFIXES = ("GAE_", "DATASTORE_", "GOOGLE_CLOUD_", "STORAGE_EMULATOR_")


# -- throughput ------------------------------------------------------------------------------


def scaled(comp: Comparison, settings: Settings) -> Settings:
    """The settings for ``comp``: slow comparisons get longer slices and fewer rounds."""
    return Settings(
        rounds=max(1, settings.rounds // comp.round_divisor),
        slice_s=settings.slice_s * comp.slice_scale,
        cold_runs=settings.cold_runs,
    )


#: Datastore RPCs per request of one comparison: side -> RPC name -> calls per request.
Rpcs = dict[str, dict[str, float]]


def rpcs_per_request(app: Any, spec: RequestSpec, requests: int) -> dict[str, float]:
    """Send ``spec`` ``requests`` times with ndb's RPCs counted; the mean calls per request
    of each RPC name."""
    call = make_caller(app, spec)
    with counting_rpcs() as counts:
        for _ in range(requests):
            call()
    return {name: counts[name] / requests for name in sorted(counts)}


def _rpc_summary(counts: Mapping[str, float]) -> str:
    if not counts:
        return "0"
    total = sum(counts.values())
    return f"{total:g} (" + ", ".join(f"{n} {c:g}" for n, c in counts.items()) + ")"


def after_timing(
    comp: Comparison, result: ScenarioResult, built: dict[str, tuple[Any, RequestSpec]]
) -> Rpcs | None:
    """Count each side's RPCs per request (if the comparison expects some) and run the
    apps' audits; what differs from the expectation is added to the side's problems."""
    rpcs: Rpcs | None = None
    if comp.expect_rpcs is not None:
        rpcs = {}
        for side, expected in zip((BASELINE, CANDIDATE), comp.expect_rpcs, strict=True):
            counts = rpcs[side] = rpcs_per_request(*built[side], comp.rpc_requests)
            if counts != {name: float(n) for name, n in sorted(expected.items())}:
                result.problems[side].append(
                    f"{_rpc_summary(counts)} Datastore RPCs per request, expected "
                    f"{_rpc_summary({n: float(c) for n, c in sorted(expected.items())})}"
                )
    for side, (app, _spec) in built.items():
        audit = getattr(app, "extensions", {}).get(AUDIT)
        if audit is not None:
            result.problems[side] += audit()
    return rpcs


def run_comparison(comp: Comparison, settings: Settings) -> tuple[ScenarioResult, Rpcs | None]:
    """Enter the comparison's setup, then check and time both sides (or skip it); then
    count RPCs and audit the sides."""
    built: dict[str, tuple[Any, RequestSpec]] = {}

    def builder(side: str, candidate: bool) -> Callable[[], tuple[Any, RequestSpec]]:
        def build() -> tuple[Any, RequestSpec]:
            built[side] = comp.build(candidate)
            return built[side]

        return build

    try:
        with comp.setup():
            result = run_sides(
                comp.name,
                {BASELINE: builder(BASELINE, False), CANDIDATE: builder(CANDIDATE, True)},
                scaled(comp, settings),
                baseline=BASELINE,
                warmup_requests=comp.warmup_requests,
            )
            if not result.rates:  # a side failed its check: nothing was timed
                return result, None
            return result, after_timing(comp, result, built)
    except Skip as exc:
        return ScenarioResult(comp.name, baseline=BASELINE, skipped=str(exc)), None


def throughput_table(results: list[ScenarioResult], settings: Settings) -> list[str]:
    slow = [
        f"{r.name}: {r.rounds} of {r.slice_s:g} s"
        for r in results
        if r.rates and (r.rounds, r.slice_s) != (settings.rounds, settings.slice_s)
    ]
    lines = [
        "### App Engine adapter vs bare app "
        f"({settings.rounds} interleaved rounds of {settings.slice_s:g} s per side"
        + "".join(f"; {s}" for s in slow)
        + ")",
        "",
        "ratio = candidate req/s / baseline req/s, the median over rounds of each round's "
        "ratio (< 1: the candidate is slower). IQR = middle half of the per-round ratios "
        "(noise). overhead = the time the candidate adds, in % of the baseline's time "
        "(1 / ratio - 1). added = median over rounds of the extra time per request. "
        "req/s = median over rounds.",
        "",
        "| scenario | baseline req/s | candidate req/s | ratio | IQR | overhead | added µs/req "
        "| check |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        if r.skipped is not None:
            lines.append(f"| {r.name} | - | - | - | - | - | - | skipped |")
        elif not r.rates:
            lines.append(f"| {r.name} | - | - | - | - | - | - | FAIL |")
        else:  # timed; a check after the timing (RPCs, audit) may still have failed
            ratio = r.speedup(CANDIDATE)
            low, high = r.spread(CANDIDATE)
            lines.append(
                f"| {r.name} | {r.median(BASELINE):,.0f} | {r.median(CANDIDATE):,.0f} | "
                f"{ratio:.3f}x | {low:.3f}-{high:.3f} | {(1 / ratio - 1) * 100:+.1f} % | "
                f"{r.added_us(CANDIDATE):+.2f} | {'ok' if r.ok else 'FAIL'} |"
            )
    lines += ["", "Sides (baseline -> candidate):", ""]
    for r in results:
        comp = COMPARISONS[r.name]
        goal = f" Goal: {comp.goal}." if comp.goal else ""
        lines.append(f"- `{r.name}`: {comp.baseline} -> {comp.candidate}.{goal}")
        if r.skipped is not None:
            lines.append(f"  Skipped: {r.skipped}")
    return lines


def rpc_table(results: list[ScenarioResult], rpcs: dict[str, Rpcs]) -> list[str]:
    """Datastore RPCs per request of the comparisons that counted them."""
    lines = [
        "### Datastore RPCs per request",
        "",
        "Counted after the timing over a few more requests per side, by wrapping "
        "`google.cloud.ndb._datastore_api.make_call`; total (by RPC name).",
        "",
        "| scenario | baseline | candidate |",
        "| --- | --- | --- |",
    ]
    for r in results:
        if r.name in rpcs:
            base, cand = (_rpc_summary(rpcs[r.name][side]) for side in (BASELINE, CANDIDATE))
            lines.append(f"| {r.name} | {base} | {cand} |")
    return lines


# -- cold start ------------------------------------------------------------------------------


#: The two states of the bytecode cache a cold start is measured in.
CACHED = "cached .pyc"
COMPILED = "framework + gae compiled"
CACHE_STATES = (CACHED, COMPILED)


@dataclass
class GaeColdStart:
    """Cold starts of the adapter: seconds per phase for every run, per cache state."""

    runs: int
    samples: dict[str, list[tuple[float, ...]]] = field(
        default_factory=lambda: {state: [] for state in CACHE_STATES}
    )
    #: The ``google`` modules any run had loaded after import, wrap and one request.
    google_modules: list[str] = field(default_factory=list)
    error: str | None = None

    def median_ms(self, state: str) -> list[float]:
        per_phase = zip(*self.samples[state], strict=True)
        return [statistics.median(values) * 1000 for values in per_phase]


def _child_env(pycache: Path, *, write: bool) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in coldstart._DISTORTING_ENV
        and key != "PYTHONDONTWRITEBYTECODE"
        and not key.startswith(_CHILD_ENV_PREFIXES)
    }
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_cold_child(env: dict[str, str]) -> tuple[tuple[float, ...], list[str]]:
    """One fresh interpreter: the phases in seconds, and the ``google`` modules it loaded."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(CHILD), str(coldstart.ROOT)],
        cwd=coldstart.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise coldstart.ColdStartError(
            f"The gae cold-start child exited with {proc.returncode}: {tail}"
        )
    times_line, _, modules_line = proc.stdout.partition("\n")
    fw, build, imp, wrap, req = (float(x) for x in times_line.split())
    return (fw, build, imp, wrap, imp + wrap, req, wall), modules_line.split()


def measure_cold(runs: int) -> GaeColdStart:
    """``runs`` cold starts per cache state, interleaved, after one warm-up run per state.

    Each state has its own bytecode cache (``PYTHONPYCACHEPREFIX``, a temporary folder, so
    nothing is written into the repository): the warm-up fills it, then the timed runs only
    read it. In the *compiled* state the cache of ``framework`` and ``gae`` is deleted after
    the warm-up, so they are compiled from source on every run (the standard library and
    site-packages stay cached): what a cold start pays when the deployment carries no
    ``__pycache__``.
    """
    result = GaeColdStart(runs)
    with tempfile.TemporaryDirectory(prefix="bench-gae-pycache-") as tmp:
        caches = {state: Path(tmp) / str(i) for i, state in enumerate(CACHE_STATES)}
        try:
            for cache in caches.values():
                run_cold_child(_child_env(cache, write=True))
            mirror = caches[COMPILED] / coldstart.ROOT.relative_to(coldstart.ROOT.anchor)
            for package in ("framework", "gae"):
                shutil.rmtree(mirror / package, ignore_errors=True)
            envs = {state: _child_env(cache, write=False) for state, cache in caches.items()}
            for i in range(runs):
                for state in CACHE_STATES if i % 2 == 0 else CACHE_STATES[::-1]:
                    phases, google = run_cold_child(envs[state])
                    result.samples[state].append(phases)
                    result.google_modules = sorted({*result.google_modules, *google})
        except coldstart.ColdStartError as exc:
            result.error = str(exc)
    return result


def cold_ok(cold: GaeColdStart) -> bool:
    return cold.error is None and not cold.google_modules


def coldstart_table(cold: GaeColdStart) -> list[str]:
    lines = [
        f"### Adapter cold start (fresh interpreter, median of {cold.runs} runs per column, "
        "interleaved)",
        "",
        "The child imports framework and builds the hello app, then times `import gae`, "
        "`gae.wrap(app)` and one request through the wrapped app. Goal: import gae < 5 ms. "
        f"'{CACHED}': every module loads from bytecode; '{COMPILED}': the repository's "
        "packages are compiled from source each time (a deployment without `__pycache__`). "
        "'process wall' includes interpreter start-up.",
        "",
    ]
    if cold.error is not None:
        return [*lines, f"FAIL: {cold.error}"]
    lines += [f"| phase | {CACHED} ms | {COMPILED} ms |", "| --- | ---: | ---: |"]
    columns = [cold.median_ms(state) for state in CACHE_STATES]
    for phase, cached, compiled in zip(COLD_PHASES, *columns, strict=True):
        lines.append(f"| {phase} | {cached:.2f} | {compiled:.2f} |")
    loaded = ", ".join(cold.google_modules) if cold.google_modules else "none (ok)"
    lines += ["", f"`google.*` modules loaded after import, wrap and one request: {loaded}"]
    return lines


# -- JSON, profile, main ---------------------------------------------------------------------


def to_json(
    results: list[ScenarioResult],
    cold: GaeColdStart | None,
    settings: Settings,
    ok: bool,
    rpcs: dict[str, Rpcs] | None = None,
) -> dict[str, Any]:
    scenarios = []
    for r in results:
        comp = COMPARISONS[r.name]
        entry: dict[str, Any] = {
            "name": r.name,
            "baseline": comp.baseline,
            "candidate": comp.candidate,
            "ok": r.ok,
            "skipped": r.skipped,
            "problems": r.problems,
            "rounds": r.rounds,
            "slice_s": r.slice_s,
            "rates": r.rates,
            "rpcs_per_request": (rpcs or {}).get(r.name),
        }
        if r.rates:
            ratio = r.speedup(CANDIDATE)
            entry |= {
                "median_rps": {s: r.median(s) for s in r.rates},
                "ratio": ratio,
                "ratio_iqr": r.spread(CANDIDATE),
                "overhead_pct": (1 / ratio - 1) * 100,
                "added_us": r.added_us(CANDIDATE),
            }
        scenarios.append(entry)
    data: dict[str, Any] = {
        "mode": "gae",
        "python": platform.python_version(),
        "rounds": settings.rounds,
        "slice_s": settings.slice_s,
        "ok": ok,
        "scenarios": scenarios,
    }
    if cold is not None:
        data["coldstart"] = {
            "runs": cold.runs,
            "error": cold.error,
            "google_modules": cold.google_modules,
            "median_ms": {
                state: dict(zip(COLD_PHASES, cold.median_ms(state), strict=True))
                for state in CACHE_STATES
            }
            if cold.error is None
            else None,
        }
    return data


def profile(name: str, requests: int | None) -> int:
    """cProfile the candidate side of ``name`` (or ``ndb-context``: a bare context)."""
    import cProfile
    import pstats

    comp = COMPARISONS[name] if name != NDB_CONTEXT else COMPARISONS["gae-ndb-context"]
    count = requests or comp.profile_requests
    profiler = cProfile.Profile()
    try:
        with comp.setup():
            if name == NDB_CONTEXT:
                import gae.ndb

                client = gae.ndb.get_client()

                def call() -> None:
                    with client.context():
                        pass

                what = "entering and leaving `client.context()`"
            else:
                app, spec = comp.build(True)
                problems = check(app, spec)
                if problems:
                    print(f"{name}: {'; '.join(problems)}", file=sys.stderr)
                    return 1
                call = make_caller(app, spec)
                what = f"{name}, candidate ({comp.candidate})"
            warm_up(call, min(200, count))

            def loop() -> None:
                for _ in range(count):
                    call()

            profiler.runcall(loop)
    except Skip as exc:
        print(f"{name} skipped: {exc}", file=sys.stderr)
        return 0
    stats = pstats.Stats(profiler, stream=sys.stdout)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"# {what}: {count} times, {total / count * 1e6:.1f} µs each under cProfile")
    print("# top 15 by tottime")
    stats.sort_stats("tottime").print_stats(15)
    print("# top 15 by cumulative time")
    stats.sort_stats("cumulative").print_stats(15)
    return 0


def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.profile:
        return profile(args.profile, args.profile_requests)
    selected: list[str] = args.scenario or [*COMPARISONS, COLDSTART]
    results: list[ScenarioResult] = []
    rpcs: dict[str, Rpcs] = {}
    with one_emulator():  # started by the first comparison that needs it, if any
        for name, comp in COMPARISONS.items():
            if name in selected:
                print(f"running {name} ...", file=sys.stderr)
                result, counted = run_comparison(comp, settings)
                if result.skipped is not None:
                    print(f"skipped {name}: {result.skipped}", file=sys.stderr)
                if counted is not None:
                    rpcs[name] = counted
                results.append(result)
    cold = None
    if COLDSTART in selected:
        print(f"running {COLDSTART} ...", file=sys.stderr)
        cold = measure_cold(settings.cold_runs)

    ok = all(r.ok for r in results) and (cold is None or cold_ok(cold))
    lines: list[str] = []
    if results:
        lines += throughput_table(results, settings)
    if rpcs:
        lines += ["", *rpc_table(results, rpcs)]
    if cold is not None:
        lines += ["", *coldstart_table(cold)] if lines else coldstart_table(cold)
    lines.append("")
    skipped = [r.name for r in results if r.skipped is not None]
    if ok:
        lines.append(
            "All correctness checks passed"
            + (f" (skipped: {', '.join(skipped)})." if skipped else ".")
        )
    else:
        lines.append("Correctness checks FAILED:")
        for r in results:
            for side, problems in r.problems.items():
                lines += [f"- {r.name} ({side}): {p}" for p in problems]
        if cold is not None and cold.error is not None:
            lines.append(f"- {COLDSTART}: {cold.error}")
        if cold is not None and cold.google_modules:
            lines.append(
                f"- {COLDSTART}: import gae + gae.wrap(app) + one request loaded "
                f"{', '.join(cold.google_modules)}; google.* must load on first use only."
            )

    data = to_json(results, cold, settings, ok, rpcs)
    if args.json == "-":
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(lines))
        if args.json:
            Path(args.json).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1
