"""A loopback TCP link between the app and an emulator that a fault test can cut.

Part of ``tests/load``. Cutting it closes the listening socket and resets every open
connection, so the app sees what it would see if the emulator had died: refused and
reset connections. The fault tests cut the link *before* stopping the Datastore emulator
because that emulator saves its data only as it exits, and the save fails when a write
arrives meanwhile (see ``gae.emulators.DatastoreEmulator.stop``): with the link cut, no
write can.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
import typing as t

HOST = "127.0.0.1"


def _quiet_port() -> int:
    """A free loopback port below the kernel's ephemeral range (32768 and up on Linux).

    While the link is cut the app keeps reconnecting to its port; an outgoing connection
    given that same port as its source would connect to itself and keep the port taken,
    and the link could not listen on it again.
    """
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError("No free loopback port between 20000 and 32000.")


class Link:
    """Forward ``127.0.0.1:port`` to ``127.0.0.1:target`` until :meth:`cut`.

    Runs its own event loop on a background thread; :meth:`close` ends it.
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = _quiet_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def _call(self, coroutine: t.Coroutine[t.Any, t.Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def start(self) -> None:
        """Start the loop and listen."""
        self._thread.start()
        self.restore()

    def restore(self) -> None:
        """Listen again (on the same port) after :meth:`cut`."""
        self._call(self._listen())

    def cut(self) -> None:
        """Stop listening and reset every open connection, both ways."""
        self._call(self._cut())

    def close(self) -> None:
        """Cut, then end the loop's thread."""
        if self._thread.is_alive():
            self.cut()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, HOST, self.port)

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            transport = writer.transport
            with contextlib.suppress(OSError):
                # SO_LINGER 0: a reset, as a dead peer's kernel would answer, not a FIN.
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
            transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(HOST, self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
