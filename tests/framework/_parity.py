"""Shared helpers for the core behaviour tests: run one scenario on Flask and on framework.

Flask 3.1 is the oracle. ``compare`` builds the same app with both modules, sends the same
requests and asserts that status, headers (minus ``Date``) and body agree; it returns the
framework results so a test can also assert the expected values directly.
"""

from __future__ import annotations

import re
import types
import typing as t

import flask
import pytest

import framework

MODULES: tuple[types.ModuleType, ...] = (framework, flask)
MODULE_IDS = ("framework", "flask")


class Snap(t.NamedTuple):
    """What a client observes of a response: status line, headers (sorted) and body."""

    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def code(self) -> int:
        return int(self.status.split(None, 1)[0])

    @property
    def text(self) -> str:
        return self.body.decode()

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


class Raised(t.NamedTuple):
    """An exception that escaped the test client (compared by type only)."""

    type_name: str
    message: str

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Raised) and self.type_name == other.type_name

    def __hash__(self) -> int:
        return hash(self.type_name)


def _normalise(name: str, value: str) -> str:
    # Allow lists come from a set: their order varies between runs, so compare them sorted.
    if name.lower() == "allow":
        return ", ".join(sorted(v.strip() for v in value.split(",")))
    if name.lower() == "set-cookie":
        # A signed cookie ends in ".timestamp.signature": the clock may tick between the
        # two apps' requests, so compare the payload and attributes only.
        return re.sub(
            r"^([^=]+=[^;]*?)\.[A-Za-z0-9_-]{4,8}\.[A-Za-z0-9_-]{20,}(;|$)", r"\1.<signed>\2", value
        )
    return value


def snap(response: t.Any) -> Snap:
    """Snapshot a test client response (the body is read fully)."""
    # Sorted by name only: the order of repeated headers is kept, it is observable.
    pairs = [(k, _normalise(k, v)) for k, v in response.headers.items() if k.lower() != "date"]
    headers = tuple(sorted(pairs, key=lambda kv: kv[0].lower()))
    try:
        return Snap(response.status, headers, response.get_data())
    finally:
        response.close()


Call = t.Callable[[t.Any], t.Any] | str


def _run(client: t.Any, call: Call) -> Snap | Raised:
    try:
        response = client.get(call) if isinstance(call, str) else call(client)
    except Exception as e:
        return Raised(type(e).__name__, str(e))
    return snap(response)


def outcomes(build: t.Callable[[types.ModuleType], t.Any], *calls: Call) -> dict[str, list[t.Any]]:
    """Run ``calls`` (paths to GET, or ``client -> response`` callables) against both apps."""
    results: dict[str, list[t.Any]] = {}
    for mod in MODULES:
        app = build(mod)
        client = app.test_client()
        results[mod.__name__] = [_run(client, call) for call in calls]
    return results


def compare(build: t.Callable[[types.ModuleType], t.Any], *calls: Call) -> list[t.Any]:
    """Assert both apps answer ``calls`` identically; return framework's snapshots."""
    results = outcomes(build, *calls)
    ours, theirs = results["framework"], results["flask"]
    differences = [
        f"call {i}: framework={a!r}\n        flask={b!r}"
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
        if a != b
    ]
    assert not differences, "framework and Flask differ:\n" + "\n".join(differences)
    return ours


def mod_fixture() -> t.Any:
    """A ``mod`` fixture parametrised over framework and flask, for direct-assert tests."""

    @pytest.fixture(params=MODULES, ids=MODULE_IDS)
    def mod(request: pytest.FixtureRequest) -> types.ModuleType:
        return t.cast(types.ModuleType, request.param)

    return mod
