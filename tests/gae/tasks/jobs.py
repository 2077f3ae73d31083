"""Functions the task tests defer, and the Datastore models they leave their effects in."""

from __future__ import annotations

import collections
import hashlib
import threading
import typing as t

from google.cloud import ndb

from gae.tasks import PermanentTaskFailure, current_task, task


# Kinds of their own: ndb maps a kind to the last model class defined with its name, and
# other test modules define a "Note" too.
class TaskNote(ndb.Model):
    text = ndb.TextProperty()
    runs = ndb.IntegerProperty(default=0)
    retry_counts = ndb.IntegerProperty(repeated=True)


class TaskItem(ndb.Model):
    n = ndb.IntegerProperty()


Note = TaskNote
Item = TaskItem


def _bump(note_id: str, text: str | None = None) -> Note:
    """Record one run of a task on the note (transactionally: tasks may run concurrently)."""
    info = current_task()

    def update() -> Note:
        note = Note.get_by_id(note_id) or Note(id=note_id, runs=0)
        note.runs += 1
        note.retry_counts = [*note.retry_counts, info.retry_count if info else -1]
        if text is not None:
            note.text = text
        note.put()
        return note

    return t.cast(Note, ndb.transaction(update))


def write_note(note_id: str, text: str) -> None:
    _bump(note_id, text)


def flaky(note_id: str, failures: int) -> None:
    """Fails its first ``failures`` runs, then succeeds."""
    note = _bump(note_id)
    if note.runs <= failures:
        raise RuntimeError(f"flaky failure {note.runs} of {failures}")
    _bump(note_id + "-done", "done")


def always_fails(note_id: str) -> None:
    _bump(note_id)
    raise RuntimeError("this task always fails")


def gives_up(note_id: str) -> None:
    _bump(note_id)
    raise PermanentTaskFailure("the thing this task needs is gone")


def store_digest(note_id: str, blob: bytes, label: str) -> None:
    _bump(note_id, f"{label}:{len(blob)}:{hashlib.sha256(blob).hexdigest()}")


def describe_entity(
    note_id: str, item: Item, key: ndb.Key, when: t.Any, pair: tuple[int, int]
) -> None:
    _bump(note_id, f"{item.n}|{key.id()}|{when.isoformat()}|{pair!r}")


@task(queue="mail", retries=1)
def decorated(note_id: str, text: str) -> None:
    _bump(note_id, text)
    if text == "fail":
        raise RuntimeError("decorated failure")


# -- iterate ----------------------------------------------------------------------------------

SEEN: collections.Counter[int] = collections.Counter()
FAIL_ONCE: set[int] = set()
FINALISED: list[tuple[str, int, int]] = []
_lock = threading.Lock()


def visit(item: Item) -> None:
    with _lock:
        if item.n in FAIL_ONCE:
            FAIL_ONCE.discard(item.n)
            raise RuntimeError(f"item {item.n} fails once")
        SEEN[item.n] += 1


def finished(run: t.Any) -> None:
    with _lock:
        FINALISED.append((run.key.id(), run.batches_done, run.entities_seen))
