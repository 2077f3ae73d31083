"""Task payloads: JSON with tagged values, functions by import path, never pickle."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gae.tasks import PayloadError, PermanentTaskFailure
from gae.tasks.payload import (
    Call,
    decode_arguments,
    decode_call,
    encode_call,
    function_path,
    resolve_function,
)

from . import jobs


class Thing:
    def method(self) -> None:
        pass

    @classmethod
    def build(cls) -> None:
        pass


def roundtrip(*args: object, **kwargs: object) -> tuple[list[object], dict[str, object]]:
    data = encode_call(Call("m:f", list(args), dict(kwargs)))
    json.loads(data)  # plain JSON on the wire
    return decode_arguments(decode_call(data))


def test_values_come_back_with_their_types() -> None:
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    args, kwargs = roundtrip(
        1, 2.5, "s", None, True, [1, (2, 3)], b"\x00\xff", when, dt.date(2024, 1, 2), x={"a": (1,)}
    )
    assert args == [1, 2.5, "s", None, True, [1, (2, 3)], b"\x00\xff", when, dt.date(2024, 1, 2)]
    assert kwargs == {"x": {"a": (1,)}}


def test_a_users_dict_that_looks_like_a_tag_stays_a_dict() -> None:
    args, _ = roundtrip({"__gae__": "bytes", "v": "AAAA"})
    assert args == [{"__gae__": "bytes", "v": "AAAA"}]


def test_values_json_cannot_carry_are_refused_with_their_place() -> None:
    with pytest.raises(PayloadError, match="argument 2 is nan"):
        encode_call(Call("m:f", [1, float("nan")], {}))
    with pytest.raises(
        PayloadError, match="keyword argument 'k' has the key 1; JSON object keys must be strings"
    ):
        encode_call(Call("m:f", [], {"k": {1: "x"}}))
    with pytest.raises(PayloadError, match="argument 1 is a set"):
        encode_call(Call("m:f", [{1}], {}))


def test_functions_travel_by_import_path() -> None:
    assert function_path(jobs.write_note) == "tests.gae.tasks.jobs:write_note"
    assert function_path(jobs.decorated) == "tests.gae.tasks.jobs:decorated"
    assert function_path(Thing.build) == "tests.gae.tasks.test_payload:Thing.build"
    assert resolve_function("tests.gae.tasks.jobs:write_note") is jobs.write_note
    with pytest.raises(PayloadError, match="method of an instance"):
        function_path(Thing().method)
    with pytest.raises(PayloadError, match="lambda or a nested function"):
        function_path(lambda: None)


def test_only_python_functions_are_resolved() -> None:
    with pytest.raises(PermanentTaskFailure, match="not a Python function"):
        resolve_function("os:system")
    with pytest.raises(PermanentTaskFailure, match="not a Python function"):
        resolve_function("subprocess:Popen")
    with pytest.raises(PermanentTaskFailure, match="renamed or removed"):
        resolve_function("tests.gae.tasks.jobs:no_such_function")


def test_undecodable_payloads_are_permanent_failures() -> None:
    with pytest.raises(PermanentTaskFailure, match="not JSON"):
        decode_call(b"\x80garbage")
    with pytest.raises(PermanentTaskFailure, match="version 1"):
        decode_call(b'{"v": 99}')
