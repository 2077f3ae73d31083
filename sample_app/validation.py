"""Checks of JSON request bodies that the JSON parser lets through.

Python's parser (and so ``request.get_json``) accepts text no data store can keep and
numbers no field can hold: lone UTF-16 surrogates (``"\\ud800"``), which cannot be encoded
as UTF-8 and make Datastore and Cloud Storage calls fail; and ``NaN``, ``Infinity``,
``-Infinity`` and numbers beyond the double range such as ``1e400`` (read as infinity),
which turn into errors wherever a whole number is needed. :func:`json_object` turns
them into a 400 that names the field, before a view uses the body.
"""

from __future__ import annotations

import math
import typing as t

from framework import abort, request

SURROGATE = (
    "{where} contains a lone UTF-16 surrogate (an escape such as \\ud800 without its "
    "pair), which is not text. Send valid Unicode."
)
NOT_FINITE = (
    "{where} is {value!r}: numbers must be finite (NaN, Infinity and numbers beyond about "
    "1.8e308 are not accepted)."
)


def json_object(expected: str) -> dict[str, t.Any]:
    """The request's JSON object, or a 400: ``expected`` says what to send instead of a
    body that is not a JSON object, and any unusable value is named (see the module)."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        abort(400, expected)
    problem = find_problem(payload)
    if problem is not None:
        abort(400, problem)
    return payload


def find_problem(payload: t.Any) -> str | None:
    """What is wrong with the first unusable value in ``payload``, or ``None``.

    Walks the document without recursion (a parsed document may be deeply nested).
    """
    stack: list[tuple[str, t.Any]] = [("the body", payload)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if not _is_text(value):
                return SURROGATE.format(where=where)
        elif isinstance(value, float):
            if not math.isfinite(value):
                return NOT_FINITE.format(where=where, value=value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if not _is_text(key):
                    return SURROGATE.format(where=f"a key of {where}")
                name = repr(key[:40])
                stack.append((name if where == "the body" else f"{where}[{name}]", item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def whole_number(value: t.Any, name: str, meaning: str) -> int:
    """``value`` as an int: an integer, an integral finite number or a string of digits;
    else a 400 saying that ``name`` must be ``meaning``."""
    if isinstance(value, bool):
        value = None  # True is an int to Python, not a size to anyone
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip()) if len(value.strip()) <= 20 else None
    if not isinstance(value, int):
        abort(400, f"'{name}' must be {meaning}, a whole number such as 1048576.")
    return value
