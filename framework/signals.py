"""Signals the framework sends, with the same names and meaning as Flask's.

All signals are :mod:`blinker` signals in one namespace, so receivers written for Flask work
unchanged: connect with ``request_started.connect(fn, app)`` and the like.

The core sends through :func:`send_if_connected`. Building the keyword arguments and entering
blinker's dispatch costs time on every request even when nothing listens, which is the usual
case in production; checking ``signal.receivers`` first makes an unused signal nearly free.
"""

from __future__ import annotations

import typing as t

from blinker import Namespace, Signal

_signals = Namespace()

template_rendered = _signals.signal("template-rendered")
before_render_template = _signals.signal("before-render-template")
request_started = _signals.signal("request-started")
request_finished = _signals.signal("request-finished")
request_tearing_down = _signals.signal("request-tearing-down")
got_request_exception = _signals.signal("got-request-exception")
appcontext_tearing_down = _signals.signal("appcontext-tearing-down")
appcontext_pushed = _signals.signal("appcontext-pushed")
appcontext_popped = _signals.signal("appcontext-popped")
message_flashed = _signals.signal("message-flashed")


def send_if_connected(signal: Signal, sender: t.Any, /, **kwargs: t.Any) -> None:
    """Send ``signal`` from ``sender`` only if at least one receiver is connected.

    Use it where the keyword arguments are cheap to build. Where building them costs
    something (say, copying a template context), test ``if signal.receivers:`` inline instead
    so that work is skipped too.
    """
    if signal.receivers:
        signal.send(sender, **kwargs)
