"""An ndb query as JSON, so that every batch task of an iteration runs the same query.

Covers what a cursor can page through: a kind, an ancestor, equality and inequality
filters joined by AND, sort orders, a namespace, keys-only and projections. OR, ``!=`` and
``IN`` filters (several Datastore queries merged in memory) have no cursor, and Python-side
post-filters cannot be written down: both are refused with a message saying so.
"""

from __future__ import annotations

import typing as t

from .errors import TaskError
from .payload import decode_value, encode_value


def _filter_spec(node: t.Any) -> t.Any:
    from google.cloud.ndb import query as q  # type: ignore[import-untyped, unused-ignore]

    if isinstance(node, q.FilterNode):
        name, op, value = node.__getnewargs__()
        if op in {"!=", "in"}:
            raise _no_cursor(f"{name} {op} ...")
        return {"p": name, "op": op, "v": encode_value(value, f"the filter on {name!r}")}
    if isinstance(node, q.ConjunctionNode):
        return {"and": [_filter_spec(child) for child in node]}
    if isinstance(node, q.DisjunctionNode):
        raise _no_cursor("an OR of filters")
    raise TaskError(
        f"The query filter {node!r} cannot be carried by a task (only property filters "
        "joined by AND can); filter inside the function instead."
    )


def _no_cursor(what: str) -> TaskError:
    return TaskError(
        f"iterate() pages through the query with cursors, and a query with {what} has none "
        "(ndb merges several queries for it). Run one iterate() per value, or filter inside "
        "the function."
    )


def query_to_spec(query: t.Any) -> dict[str, t.Any]:
    """``query`` (an ``ndb.Query``) as a JSON-able dict."""
    if query.kind is None:
        raise TaskError("iterate() needs a query with a kind, e.g. Model.query().")
    orders = [[order.name, bool(order.reverse)] for order in (query.order_by or [])]
    return {
        "kind": query.kind,
        "ancestor": encode_value(query.ancestor, "the ancestor") if query.ancestor else None,
        "filters": _filter_spec(query.filters) if query.filters is not None else None,
        "orders": orders,
        "namespace": query.namespace,
        "keys_only": bool(query.keys_only),
        "projection": list(query.projection) if query.projection else None,
    }


def _filter_from(spec: t.Any) -> t.Any:
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    if "and" in spec:
        return ndb.AND(*[_filter_from(child) for child in spec["and"]])
    return ndb.FilterNode(spec["p"], spec["op"], decode_value(spec["v"]))


def spec_to_query(spec: dict[str, t.Any]) -> t.Any:
    """The ``ndb.Query`` described by :func:`query_to_spec`."""
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]
    from google.cloud.ndb import query as q  # type: ignore[import-untyped, unused-ignore]

    return ndb.Query(
        kind=spec["kind"],
        ancestor=decode_value(spec["ancestor"]) if spec.get("ancestor") else None,
        filters=_filter_from(spec["filters"]) if spec.get("filters") else None,
        order_by=[q.PropertyOrder(name, reverse) for name, reverse in spec.get("orders") or []],
        namespace=spec.get("namespace"),
        keys_only=bool(spec.get("keys_only")) or None,
        projection=spec.get("projection") or None,
    )
