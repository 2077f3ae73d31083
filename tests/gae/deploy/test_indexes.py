"""Composite indexes read from code, checked against the Datastore emulator's own rule.

The emulator started with ``--require_indexes`` refuses a query that needs an index the
index file lacks. Every query the emulator refuses must be one `framework gae check`
reports, and with the indexes it suggests every query must run.
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.api_core.exceptions import GoogleAPICallError
from google.cloud import ndb
from google.cloud.ndb.exceptions import NestedRetryException

from gae.deploy.indexes import (
    Index,
    IndexProperty,
    QueryShape,
    find_queries,
    index_satisfies,
    required_indexes,
)
from gae.emulators import find_java, find_sdk_root
from gae.emulators.processes import Waiting, free_port, http_get, spawn, stop
from gae.emulators.processes import wait_until_healthy as wait_healthy
from gae.ndb import anonymous_client as anonymous_ndb_client

SOURCE = """
from google.cloud import ndb


class Jot(ndb.Model):
    @classmethod
    def _get_kind(cls):
        return "IndexProbeJot"

    tag = ndb.StringProperty()
    rank = ndb.IntegerProperty()
    day = ndb.StringProperty("d")


QUERIES = {
    "kind only": lambda parent: Jot.query(),
    "one equality": lambda parent: Jot.query(Jot.tag == "a"),
    "two equalities": lambda parent: Jot.query(Jot.tag == "a", Jot.day == "x"),
    "equality and order": lambda parent: Jot.query(Jot.tag == "a").order(-Jot.rank),
    "equality, filter() and order": lambda parent: Jot.query()
    .filter(Jot.tag == "a")
    .order(Jot.rank),
    "inequality and its order": lambda parent: Jot.query(Jot.rank > 0).order(-Jot.rank),
    "order descending": lambda parent: Jot.query().order(-Jot.rank),
    "two orders": lambda parent: Jot.query().order(Jot.tag, -Jot.rank),
    "ancestor only": lambda parent: Jot.query(ancestor=parent),
    "ancestor and equality": lambda parent: Jot.query(Jot.tag == "a", ancestor=parent),
    "ancestor and order": lambda parent: Jot.query(ancestor=parent).order(Jot.rank),
    "ancestor and inequality": lambda parent: Jot.query(Jot.rank > 1, ancestor=parent),
    "stored name": lambda parent: Jot.query(Jot.day == "x").order(Jot.rank),
    "key descending": lambda parent: Jot.query().order(-Jot.key),
    "IN and order": lambda parent: Jot.query(Jot.tag.IN(["a", "b"])).order(Jot.rank),
    "AND": lambda parent: Jot.query(ndb.AND(Jot.tag == "a", Jot.day == "x")).order(-Jot.rank),
}
"""


def _index_yaml(indexes: list[Index]) -> str:
    if not indexes:
        return "indexes: []\n"
    return "indexes:\n" + "\n".join(index.to_yaml() for index in indexes) + "\n"


@pytest.fixture
def strict_datastore(tmp_path: Path) -> Iterator[t.Callable[[list[Index]], t.Any]]:
    """Start the emulator with --require_indexes and a given index.yaml; an ndb client."""
    started: list[t.Any] = []
    previous = os.environ.get("DATASTORE_EMULATOR_HOST")

    def start(indexes: list[Index]) -> t.Any:
        index_file = tmp_path / f"index-{len(started)}.yaml"
        index_file.write_text(_index_yaml(indexes))
        port = free_port()
        jar = find_sdk_root() / "platform" / "cloud-datastore-emulator" / "CloudDatastore.jar"
        argv = [
            find_java(),
            "-cp",
            str(jar),
            "com.google.cloud.datastore.emulator.CloudDatastore",
            "start",
            "--host=127.0.0.1",
            f"--port={port}",
            "--testing",
            "--require_indexes",
            f"--index_file={index_file}",
        ]
        log = tmp_path / f"emulator-{len(started)}.log"
        process = spawn(argv, log)
        started.append(process)

        def healthy() -> bool:
            return http_get(f"http://127.0.0.1:{port}/", timeout=1.0)[0] == 200

        wait_healthy([Waiting("strict Datastore emulator", process, healthy, log)], 60)
        os.environ["DATASTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        return anonymous_ndb_client("index-test")

    try:
        yield start
    finally:
        for process in started:
            stop(process)
        if previous is None:
            os.environ.pop("DATASTORE_EMULATOR_HOST", None)
        else:
            os.environ["DATASTORE_EMULATOR_HOST"] = previous


def _run_all(client: t.Any, namespace: dict[str, t.Any]) -> dict[str, str | None]:
    """Each query's error (None when it ran) on the emulator."""
    results: dict[str, str | None] = {}
    with client.context():
        parent = ndb.Key("Board", 1)
        namespace["Jot"](tag="a", rank=2, day="x", parent=parent).put()
        for name, make in namespace["QUERIES"].items():
            try:
                make(parent).fetch(5)
                results[name] = None
            except (GoogleAPICallError, NestedRetryException) as error:
                # ndb's retry bookkeeping (it compares reprs of callbacks, which depend on
                # memory addresses) now and then hands on a refusal as NestedRetryException,
                # with the emulator's message unchanged.
                results[name] = str(error)
    return results


def test_inferred_indexes_agree_with_the_emulator(
    tmp_path: Path, strict_datastore: t.Callable[[list[Index]], t.Any]
) -> None:
    source = tmp_path / "models.py"
    source.write_text(SOURCE)
    shapes = find_queries([("models.py", source)])
    assert len(shapes) == 16  # every query above is one the reader understands
    needed = {shape.line: index for shape, index in required_indexes(shapes)}

    namespace: dict[str, t.Any] = {}
    exec(compile(SOURCE, str(source), "exec"), namespace)
    lines = {
        name: next(i for i, text in enumerate(SOURCE.splitlines(), 1) if f'"{name}"' in text)
        for name in namespace["QUERIES"]
    }

    without = _run_all(strict_datastore([]), namespace)
    refused = {name for name, error in without.items() if error is not None}
    assert refused, without
    for name in refused:
        assert "composite index" in str(without[name]), without[name]
        assert lines[name] in needed, f"the emulator needs an index for {name!r}; we did not"
    for name in ("kind only", "one equality", "two equalities", "ancestor and equality"):
        assert lines[name] not in needed, name

    with_ours = _run_all(strict_datastore(list(dict.fromkeys(needed.values()))), namespace)
    assert with_ours == dict.fromkeys(with_ours), with_ours


def test_index_matching_ignores_the_order_of_equality_properties() -> None:
    shape = QueryShape("m.py", 1, "Jot", False, ("tag", "day"), (), (IndexProperty("rank"),))
    needed = shape.required_index()
    assert needed is not None
    swapped = Index(
        "Jot", False, (IndexProperty("day"), IndexProperty("tag"), needed.properties[2])
    )
    assert index_satisfies(swapped, needed)
    wrong_direction = Index(
        "Jot",
        False,
        (IndexProperty("day"), IndexProperty("tag"), IndexProperty("rank", "desc")),
    )
    assert not index_satisfies(wrong_direction, needed)
    assert not index_satisfies(Index("Jot", True, swapped.properties), needed)


def test_queries_built_at_run_time_are_skipped(tmp_path: Path) -> None:
    source = tmp_path / "dynamic.py"
    source.write_text(
        "from google.cloud import ndb\n\n"
        "class Item(ndb.Model):\n"
        "    a = ndb.StringProperty()\n\n"
        "def f(prop, order):\n"
        "    q = Item.query(prop == 1).order(order)\n"
        "    return Item.query(projection=[Item.a]).order(-Item.a), q\n"
    )
    assert find_queries([("dynamic.py", source)]) == []
