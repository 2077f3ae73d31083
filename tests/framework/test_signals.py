"""Signals: Flask's names, sent in Flask's order, and not sent at all when nobody listens."""

from __future__ import annotations

import contextlib
import importlib
import types
import typing as t

import blinker
import flask.signals
import pytest

import framework.signals
from framework.signals import send_if_connected

SIGNAL_NAMES = [
    "template_rendered",
    "before_render_template",
    "request_started",
    "request_finished",
    "request_tearing_down",
    "got_request_exception",
    "appcontext_tearing_down",
    "appcontext_pushed",
    "appcontext_popped",
    "message_flashed",
]


def test_signals_have_flasks_names_and_are_our_own_objects() -> None:
    for attr in SIGNAL_NAMES:
        ours = getattr(framework.signals, attr)
        theirs = getattr(flask.signals, attr)
        assert isinstance(ours, blinker.NamedSignal)
        assert ours.name == theirs.name
        # Distinct objects: receivers connected to Flask's signals must not fire for us.
        assert ours is not theirs
    assert len({id(getattr(framework.signals, a)) for a in SIGNAL_NAMES}) == len(SIGNAL_NAMES)


def test_signals_are_reachable_from_the_package() -> None:
    import framework

    for attr in SIGNAL_NAMES:
        assert getattr(framework, attr) is getattr(framework.signals, attr)


def test_send_if_connected_skips_send_without_receivers() -> None:
    calls: list[dict[str, t.Any]] = []

    class CountingSignal(blinker.Signal):
        def send(self, *args: t.Any, **kwargs: t.Any) -> list[tuple[t.Any, t.Any]]:
            calls.append(kwargs)
            return super().send(*args, **kwargs)

    signal = CountingSignal()
    send_if_connected(signal, "sender", value=1)
    assert calls == []

    received: list[tuple[object, int]] = []

    def receiver(sender: object, value: int) -> None:
        received.append((sender, value))

    with signal.connected_to(receiver):
        send_if_connected(signal, "sender", value=2)
    assert received == [("sender", 2)]
    assert calls == [{"value": 2}]


def _make_app(mod: types.ModuleType, fail: bool) -> t.Any:
    app = mod.Flask(f"signals_{mod.__name__}")
    app.secret_key = "test secret"

    @app.route("/")  # type: ignore[untyped-decorator]
    def index() -> t.Any:
        mod.flash("hello", "info")
        if fail:
            raise ValueError("boom")
        return mod.render_template_string("{{ word }}!", word="hi")

    return app


def _record_request(package: str, fail: bool) -> tuple[list[tuple[str, list[str]]], int]:
    mod = importlib.import_module(package)
    signals = importlib.import_module(f"{package}.signals")
    app = _make_app(mod, fail)
    events: list[tuple[str, list[str]]] = []

    def recorder(name: str) -> t.Callable[..., None]:
        def receive(sender: object, **kwargs: t.Any) -> None:
            assert sender is app
            events.append((name, sorted(kwargs)))

        return receive

    with contextlib.ExitStack() as stack:
        receivers = [recorder(name) for name in SIGNAL_NAMES]
        for name, receiver in zip(SIGNAL_NAMES, receivers, strict=True):
            stack.enter_context(getattr(signals, name).connected_to(receiver, app))
        status = app.test_client().get("/").status_code
    return events, status


@pytest.mark.parametrize("fail", [False, True], ids=["ok", "error"])
def test_request_signals_fire_in_flasks_order(fail: bool) -> None:
    ours, our_status = _record_request("framework", fail)
    theirs, their_status = _record_request("flask", fail)
    assert our_status == their_status == (500 if fail else 200)
    assert ours == theirs
    names = [name for name, _ in ours]
    assert names[0] == "appcontext_pushed"
    assert names[-1] == "appcontext_popped"
    assert ("got_request_exception" in names) is fail


def test_no_send_when_no_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    import framework

    sent: list[str] = []
    for name in SIGNAL_NAMES:
        signal = getattr(framework.signals, name)
        assert not signal.receivers, f"{name} has a leftover receiver"

        def spy(*args: t.Any, _name: str = name, **kwargs: t.Any) -> list[t.Any]:
            sent.append(_name)
            return []

        monkeypatch.setattr(signal, "send", spy)

    for fail in (False, True):
        response = _make_app(framework, fail).test_client().get("/")
        assert response.status_code == (500 if fail else 200)
    assert sent == []

    # The spies are live: with a receiver connected the same request does send.
    def receiver(sender: object, **kwargs: t.Any) -> None:
        pass

    with framework.signals.request_started.connected_to(receiver):
        _make_app(framework, False).test_client().get("/")
    assert sent == ["request_started"]
