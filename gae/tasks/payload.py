"""Task payloads: a function by import path and its arguments as tagged JSON, signed.

Never pickle: a task body is data that crosses a network and outlives the code that wrote
it. A function travels as ``module:qualname`` and is imported again by the task handler;
arguments are JSON with a few tagged types (tuples, bytes, dates, ndb keys; an ndb model
instance travels as its key and is read again when the task runs, so it is never stale).
The body is signed with the app's ``SECRET_KEY`` (and accepted under
``SECRET_KEY_FALLBACKS``), so a request that got past the task-only guard still cannot name
a function of its choosing.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import inspect
import json
import math
import sys
import types
import typing as t

from .errors import PayloadError, PermanentTaskFailure

#: The key that marks a tagged value; a user's dict that has it is escaped.
TAG = "__gae__"
#: Payload format version (checked on decode).
VERSION = 1


def function_path(fn: t.Callable[..., t.Any]) -> str:
    """``module:qualname`` of ``fn``, checked to import back to the same function."""
    target = getattr(fn, "__func__", None) if inspect.ismethod(fn) else None
    if target is not None and not isinstance(getattr(fn, "__self__", None), type):
        raise PayloadError(
            f"{fn!r} is a method of an instance, which a task cannot carry. Defer a "
            "module-level function and pass what identifies the object (its key or id)."
        )
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname:
        raise PayloadError(f"{fn!r} has no import path; defer a module-level function.")
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise PayloadError(
            f"{module}.{qualname} is a lambda or a nested function, which cannot be imported "
            "when the task runs. Define it at module level and defer that."
        )
    if module == "__main__":
        raise PayloadError(
            f"{qualname} is defined in __main__, which the task handler's process imports as "
            "a different module. Move it into a module of your app and defer it from there."
        )
    path = f"{module}:{qualname}"
    try:
        resolved = resolve_function(path)
    except PermanentTaskFailure as error:
        raise PayloadError(str(error)) from None
    if resolved is not fn and resolved != fn and getattr(resolved, "__wrapped__", None) is not fn:
        raise PayloadError(
            f"{path} does not import back to {fn!r} (another object has that name). Defer the "
            "module-level function itself."
        )
    return path


def resolve_function(path: str) -> t.Callable[..., t.Any]:
    """The function named by :func:`function_path` (imported on demand)."""
    module_name, _, qualname = path.partition(":")
    try:
        target: t.Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError) as error:
        raise PermanentTaskFailure(
            f"The deferred function {path!r} cannot be imported ({error}): it was renamed or "
            "removed after the task was enqueued."
        ) from None
    # Plain functions, @task wrappers and classmethods only: never builtins or classes, so
    # a payload cannot turn into os.system(...) even if the signature were bypassed.
    allowed = (
        isinstance(target, types.FunctionType)
        or getattr(target, "gae_task", False) is True
        or (inspect.ismethod(target) and isinstance(target.__func__, types.FunctionType))
    )
    if not allowed:
        raise PermanentTaskFailure(f"{path!r} is not a Python function; tasks only call those.")
    return t.cast(t.Callable[..., t.Any], target)


def _ndb() -> t.Any:
    # Only loaded when a payload has keys or entities (the app uses ndb already then).
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    return ndb


def encode_value(value: t.Any, where: str) -> t.Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise PayloadError(f"{where} is {value!r}, which JSON cannot carry.")
        return value
    if isinstance(value, list):
        return [encode_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {
            TAG: "tuple",
            "v": [encode_value(item, f"{where}[{i}]") for i, item in enumerate(value)],
        }
    if isinstance(value, dict):
        out: dict[str, t.Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise PayloadError(
                    f"{where} has the key {key!r}; JSON object keys must be strings."
                )
            out[key] = encode_value(item, f"{where}[{key!r}]")
        return {TAG: "dict", "v": out} if TAG in out else out
    if isinstance(value, (bytes, bytearray)):
        return {TAG: "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dt.datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {TAG: "date", "v": value.isoformat()}
    ndb = sys.modules.get("google.cloud.ndb")
    if ndb is not None:
        if isinstance(value, ndb.Key):
            return {TAG: "key", "v": value.urlsafe().decode("ascii")}
        if isinstance(value, ndb.Model):
            if value.key is None or not value.key.id():
                raise PayloadError(
                    f"{where} is an unsaved {type(value).__name__}: a task carries an entity "
                    "by its key, so put() it first (or pass the values it needs)."
                )
            return {TAG: "entity", "v": value.key.urlsafe().decode("ascii")}
    raise PayloadError(
        f"{where} is a {type(value).__name__}, which a task cannot carry as JSON. Pass JSON "
        "values, tuples, bytes, dates, ndb keys or saved entities (or an id to look it up)."
    )


def decode_value(value: t.Any) -> t.Any:
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        return {key: decode_value(item) for key, item in value.items()}
    raw: t.Any = value["v"]
    if tag == "dict":
        return {key: decode_value(item) for key, item in raw.items()}
    if tag == "tuple":
        return tuple(decode_value(item) for item in raw)
    if tag == "bytes":
        return base64.b64decode(raw)
    if tag == "datetime":
        return dt.datetime.fromisoformat(raw)
    if tag == "date":
        return dt.date.fromisoformat(raw)
    if tag == "key":
        return _ndb().Key(urlsafe=raw.encode("ascii"))
    if tag == "entity":
        key = _ndb().Key(urlsafe=raw.encode("ascii"))
        entity = key.get()
        if entity is None:
            raise PermanentTaskFailure(f"The entity {key!r} passed to this task no longer exists.")
        return entity
    raise PermanentTaskFailure(f"Unknown value tag {tag!r} in the task payload.")


class Call(t.NamedTuple):
    """What a task runs: the function's path, its arguments and the run's limits."""

    path: str
    args: list[t.Any]
    kwargs: dict[str, t.Any]
    retries: int | None = None
    age_limit: float | None = None
    enqueued_at: float | None = None
    trace: str | None = None


def encode_call(call: Call) -> bytes:
    """The JSON document for ``call`` (arguments checked now, at defer time)."""
    document: dict[str, t.Any] = {
        "v": VERSION,
        "fn": call.path,
        "args": [encode_value(arg, f"argument {i + 1}") for i, arg in enumerate(call.args)],
        "kwargs": {
            key: encode_value(arg, f"keyword argument {key!r}") for key, arg in call.kwargs.items()
        },
    }
    for field in ("retries", "age_limit", "enqueued_at", "trace"):
        value = getattr(call, field)
        if value is not None:
            document[field] = value
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def decode_call(data: bytes) -> Call:
    """The :class:`Call` in a document from :func:`encode_call` (arguments not decoded)."""
    try:
        document = json.loads(data)
    except ValueError as error:
        raise PermanentTaskFailure(f"The task payload is not JSON ({error}).") from None
    if not isinstance(document, dict) or document.get("v") != VERSION:
        raise PermanentTaskFailure("The task payload is not a gae.tasks payload (version 1).")
    return Call(
        path=str(document.get("fn")),
        args=list(document.get("args") or []),
        kwargs=dict(document.get("kwargs") or {}),
        retries=document.get("retries"),
        age_limit=document.get("age_limit"),
        enqueued_at=document.get("enqueued_at"),
        trace=document.get("trace"),
    )


def decode_arguments(call: Call) -> tuple[list[t.Any], dict[str, t.Any]]:
    """The call's arguments as Python values (keys rebuilt, entities read again)."""
    return [decode_value(arg) for arg in call.args], {
        k: decode_value(v) for k, v in call.kwargs.items()
    }
