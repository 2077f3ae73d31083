"""ChunkBuffer: the memory an upload chunk lives in, and the one buffer kept for the next."""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator

import pytest

from gae.storage import buffer as storage_buffer
from gae.storage.buffer import ChunkBuffer, give_back, take_buffer

KiB = 1024


@pytest.fixture(autouse=True)
def no_kept_buffers() -> Iterator[None]:
    kept = list(storage_buffer._kept)
    storage_buffer._kept.clear()
    yield
    for buffer in storage_buffer._kept:
        buffer.close()
    storage_buffer._kept[:] = kept


def test_append_takes_what_fits_and_the_data_reads_back() -> None:
    buffer = ChunkBuffer(256 * KiB)
    data = os.urandom(300 * KiB)
    assert buffer.append(data[: 100 * KiB]) == 100 * KiB
    assert buffer.append(memoryview(data)[100 * KiB :]) == 156 * KiB
    assert buffer.full and len(buffer) == 256 * KiB
    assert buffer.append(b"more") == 0
    with buffer.view() as view:
        assert view == data[: 256 * KiB]
    assert buffer.head(10) == data[:10]


def test_discard_moves_the_rest_to_the_front() -> None:
    buffer = ChunkBuffer(64 * KiB)
    buffer.append(b"abcdef")
    buffer.discard(4)
    assert buffer.head(100) == b"ef"
    buffer.append(b"gh")
    assert buffer.head(100) == b"efgh"
    buffer.discard(4)
    assert len(buffer) == 0


def test_a_closed_buffer_says_so() -> None:
    buffer = ChunkBuffer(64 * KiB)
    buffer.close()
    buffer.close()
    assert buffer.closed
    with pytest.raises(ValueError, match="closed"):
        buffer.append(b"x")
    with pytest.raises(ValueError, match="positive capacity"):
        ChunkBuffer(0)


def test_one_finished_buffer_is_kept_for_the_next_upload() -> None:
    first = take_buffer(256 * KiB)
    second = take_buffer(256 * KiB)
    first.append(b"old data")
    give_back(first)
    give_back(second)
    # The newest is kept, empty; the other one is closed.
    assert first.closed
    again = take_buffer(256 * KiB)
    assert again is second and len(again) == 0
    # A different chunk size gets a buffer of its own.
    other = take_buffer(512 * KiB)
    assert other is not again and other.capacity == 512 * KiB


def test_a_kept_buffer_gives_back_the_pages_past_the_warm_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(storage_buffer, "WARM_BYTES", 64 * KiB)
    buffer = take_buffer(512 * KiB)
    buffer.append(b"\xff" * (512 * KiB))
    give_back(buffer)
    kept = take_buffer(512 * KiB)
    assert kept is buffer
    # Still usable, and what was given back reads as zeros (the warm part keeps its bytes).
    kept.filled = 512 * KiB
    with kept.view() as view:
        assert view[: 64 * KiB] == b"\xff" * (64 * KiB)
        assert view[64 * KiB :] == bytes(448 * KiB)


def test_release_pages_never_drops_data_bytes() -> None:
    buffer = ChunkBuffer(64 * mmap.PAGESIZE)
    data = os.urandom(10 * mmap.PAGESIZE + 5)
    buffer.append(data)
    buffer.release_pages(0)
    assert buffer.head(len(data)) == data
