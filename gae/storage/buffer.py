"""The memory an upload chunk lives in, and nothing more.

Part of :mod:`gae.storage`. A chunk is collected in anonymous memory pages (``mmap``)
reserved at its full size up front: the kernel only backs the pages bytes are written to,
so a 4 KiB file costs 4 KiB whatever the chunk size; the buffer never grows, so it is
never copied into a larger one (a growing ``bytearray`` briefly holds old and new copies
while it is reallocated); and closing it returns the pages to the system at once, instead
of leaving them in the allocator's heap for the process's peak memory to remember.

Fresh pages are expensive: the kernel faults in and zeroes each 4 KiB page on first write,
which costs more than copying the data into it (about 0.8 ms per MiB here, more in App
Engine's sandbox). So :func:`take_buffer` and :func:`give_back` keep one finished buffer
for the next upload, with up to :data:`WARM_BYTES` of it still backed by memory: that much
stays with the process between uploads, and the rest of the buffer's pages go back.
"""

from __future__ import annotations

import mmap
import threading

#: How many finished buffers wait for the next upload.
KEPT_BUFFERS = 1
#: How much of a kept buffer stays backed by memory (the rest is given back).
WARM_BYTES = 16 * 1024 * 1024

# Private pages (Python's default for anonymous maps is shared: shared pages are not
# given back by madvise).
_PRIVATE = (
    {"flags": mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS} if hasattr(mmap, "MAP_ANONYMOUS") else {}
)

_kept: list[ChunkBuffer] = []
_kept_lock = threading.Lock()


def take_buffer(capacity: int) -> ChunkBuffer:
    """An empty buffer of ``capacity``: a kept one if there is one, else a new one."""
    with _kept_lock:
        for index, buffer in enumerate(_kept):
            if buffer.capacity == capacity:
                return _kept.pop(index)
    return ChunkBuffer(capacity)


def give_back(buffer: ChunkBuffer) -> None:
    """Done with ``buffer``: keep it for the next upload, or close it."""
    if buffer.closed:
        return
    buffer.filled = 0
    buffer.release_pages(WARM_BYTES)
    with _kept_lock:
        if len(_kept) < KEPT_BUFFERS:
            _kept.append(buffer)
            return
        # The newest is kept: it matches the chunk size the app uses now.
        oldest = _kept.pop(0)
        _kept.append(buffer)
    oldest.close()


class ChunkBuffer:
    """Up to ``capacity`` bytes: :meth:`append` at the end, :meth:`discard` from the front."""

    __slots__ = ("_map", "capacity", "filled")

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"A chunk buffer needs a positive capacity, not {capacity}.")
        self.capacity = capacity
        #: How many bytes at the start of the buffer are data.
        self.filled = 0
        self._map: mmap.mmap | None = mmap.mmap(-1, capacity, **_PRIVATE)

    def __len__(self) -> int:
        return self.filled

    @property
    def full(self) -> bool:
        return self.filled >= self.capacity

    def append(self, data: bytes | bytearray | memoryview) -> int:
        """Copy in as much of ``data`` as fits; how many bytes that was."""
        taken = min(self.capacity - self.filled, len(data))
        if taken:
            end = self.filled + taken
            self._memory()[self.filled : end] = data[:taken] if taken < len(data) else data
            self.filled = end
        return taken

    def head(self, size: int) -> bytes:
        """A copy of the first ``size`` bytes of data."""
        return self._memory()[: min(size, self.filled)]

    def view(self) -> memoryview:
        """The data, without copying; release the view before the buffer changes."""
        return memoryview(self._memory())[: self.filled]

    def discard(self, size: int) -> None:
        """Drop the first ``size`` bytes of data; the rest moves to the front."""
        kept = self.filled - size
        if size and kept:
            self._memory().move(0, size, kept)
        self.filled = max(kept, 0)

    def release_pages(self, keep: int) -> None:
        """Give back the memory behind everything after the first ``keep`` bytes."""
        start = keep - keep % mmap.PAGESIZE
        if start < self.capacity and hasattr(mmap, "MADV_DONTNEED"):
            # Private anonymous pages read as zeros again once given back: nothing is lost,
            # as only bytes after ``filled`` are ever given back.
            start = max(start, -(-self.filled // mmap.PAGESIZE) * mmap.PAGESIZE)
            if start < self.capacity:
                self._memory().madvise(mmap.MADV_DONTNEED, start, self.capacity - start)

    @property
    def closed(self) -> bool:
        return self._map is None

    def close(self) -> None:
        """Give the memory back (idempotent); the buffer holds nothing afterwards."""
        memory, self._map = self._map, None
        self.filled = 0
        if memory is not None:
            memory.close()

    def _memory(self) -> mmap.mmap:
        if self._map is None:
            raise ValueError("This chunk buffer is closed.")
        return self._map
