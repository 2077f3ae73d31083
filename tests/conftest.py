"""What every test run needs, whoever launched it.

A shell that starts a command in the background (``make test &``, ``nohup ... &``) starts
it with SIGINT ignored, and children inherit that. The tests that stop a server or the
emulators the way a person does, Ctrl-C to the process group, would then see nothing
happen and fall back on SIGKILL after their timeout, testing nothing. A terminal's
foreground job has SIGINT at its default; this restores that for the run and its children.
"""

from __future__ import annotations

import signal

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
