"""The interleaved comparison shared by both modes of ``bench.run``.

Two (or more) sides of one scenario are checked once, warmed up, then timed in alternating
short rounds (A B B A A B ...). The statistic is the median over rounds of the per-round
ratio of requests/second, with the interquartile range of those ratios as the noise: two
adjacent slices see nearly the same machine, so the ratio cancels the drift.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.driver import check, make_caller, time_slice, warm_up
from bench.scenarios import RequestSpec

#: Builds one side of a scenario: its WSGI app and the request to replay.
SideBuilder = Callable[[], tuple[Any, RequestSpec]]


@dataclass(frozen=True)
class Settings:
    rounds: int
    slice_s: float
    cold_runs: int


@dataclass
class ScenarioResult:
    name: str
    #: Problems found by the correctness check, per side (empty lists: all good).
    problems: dict[str, list[str]] = field(default_factory=dict)
    #: Requests/second of every round, per side.
    rates: dict[str, list[float]] = field(default_factory=dict)
    #: The side every ratio is taken against.
    baseline: str = "flask"
    #: Why the scenario was not run (a missing emulator), or None if it ran.
    skipped: str | None = None
    #: Rounds and seconds per round actually used (a slow scenario may use longer slices).
    rounds: int = 0
    slice_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    @property
    def timed(self) -> bool:
        return self.ok and self.skipped is None and bool(self.rates)

    def median(self, side: str) -> float:
        return statistics.median(self.rates[side])

    def ratios(self, candidate: str) -> list[float]:
        """Candidate req/s over baseline req/s, per round (each round is an adjacent pair)."""
        return [
            c / b for b, c in zip(self.rates[self.baseline], self.rates[candidate], strict=True)
        ]

    def speedup(self, candidate: str) -> float:
        return statistics.median(self.ratios(candidate))

    def spread(self, candidate: str) -> tuple[float, float]:
        """The interquartile range of the per-round ratios (both ends equal for one round)."""
        return _iqr(self.ratios(candidate))

    def added_us(self, candidate: str) -> float:
        """Median over rounds of (candidate time - baseline time) per request, in µs."""
        return statistics.median(
            1e6 / c - 1e6 / b
            for b, c in zip(self.rates[self.baseline], self.rates[candidate], strict=True)
        )


def _iqr(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


def run_sides(
    name: str,
    builders: dict[str, SideBuilder],
    settings: Settings,
    *,
    baseline: str,
    warmup_requests: int = 200,
) -> ScenarioResult:
    """Check every side of ``name``, then time them in alternating rounds.

    ``builders`` maps a side's name to its builder; a builder that raises is reported as a
    problem of that side, and nothing is timed unless every side answered correctly.
    """
    result = ScenarioResult(
        name, baseline=baseline, rounds=settings.rounds, slice_s=settings.slice_s
    )
    callers = {}
    for side, build in builders.items():
        try:
            app, spec = build()
        except Exception as exc:
            result.problems[side] = [f"building the app raised {type(exc).__name__}: {exc}"]
            continue
        result.problems[side] = check(app, spec)
        callers[side] = make_caller(app, spec)
    if not result.ok:
        return result

    batch = {s: warm_up(call, warmup_requests) for s, call in callers.items()}
    order = list(callers)
    result.rates = {s: [] for s in order}
    for i in range(settings.rounds):
        # A B B A A B ...: alternating, and each side goes first equally often.
        for s in order if i % 2 == 0 else order[::-1]:
            result.rates[s].append(time_slice(callers[s], settings.slice_s, batch[s]).rate)
    return result
