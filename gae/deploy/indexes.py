"""Which composite Datastore indexes an app's ndb queries need, read from its source.

Datastore answers a query from its built-in single-property indexes only in simple cases
(kind only; equality filters only; filters and sort orders on one property). Every other
query needs a composite index listed in ``index.yaml`` and deployed before the code, or it
fails in production with "no matching index found", although it worked on the emulator.

This module reads ``Model.query(...).filter(...).order(...)`` chains whose parts are
written out in the code (``Model.prop == x``, ``-Model.prop``, ``ancestor=``) and works
out the index each needs. Queries assembled at run time are skipped: they cannot be known.
"""

from __future__ import annotations

import ast
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from gae.errors import GaeError

_MODEL_BASES = frozenset({"Model", "Expando", "PolyModel"})
_SKIPPED_QUERY_KWARGS = frozenset(
    {"projection", "distinct_on", "group_by", "orders", "filters", "kind", "default_options"}
)


@dataclass(frozen=True)
class IndexProperty:
    """A property of a composite index, with its direction (``asc`` or ``desc``)."""

    name: str
    direction: str = "asc"


@dataclass(frozen=True)
class Index:
    """A composite index: kind, whether it includes the ancestor, and its properties."""

    kind: str
    ancestor: bool
    properties: tuple[IndexProperty, ...]
    #: How many leading properties come from equality filters (their order is free).
    equalities: int = field(default=0, compare=False)

    def to_yaml(self) -> str:
        """The index as an ``index.yaml`` entry."""
        lines = [f"- kind: {self.kind}"]
        if self.ancestor:
            lines.append("  ancestor: yes")
        lines.append("  properties:")
        for prop in self.properties:
            lines.append(f"  - name: {prop.name}")
            if prop.direction == "desc":
                lines.append("    direction: desc")
        return "\n".join(lines)


@dataclass(frozen=True)
class QueryShape:
    """What matters about one query for indexing."""

    file: str
    line: int
    kind: str
    ancestor: bool
    equalities: tuple[str, ...]
    inequalities: tuple[str, ...]
    orders: tuple[IndexProperty, ...]

    def required_index(self) -> Index | None:
        """The composite index this query needs, or None when built-in indexes serve it."""
        orders = [o for o in self.orders if o.name not in self.equalities]
        while orders and orders[-1] == IndexProperty("__key__"):
            orders.pop()  # entities come in key order anyway
        inequality = self.inequalities[0] if self.inequalities else None
        if not orders and inequality is None:
            return None  # kind only, or ancestor and/or equality filters only (merge join)
        touched = {*self.equalities, *self.inequalities, *(o.name for o in orders)}
        key_descending = IndexProperty("__key__", "desc") in orders
        if not self.ancestor and len(touched) == 1 and not key_descending:
            return None  # filters and sort orders on a single property
        if inequality is not None and (not orders or orders[0].name != inequality):
            orders.insert(0, IndexProperty(inequality))
        equalities = [IndexProperty(name) for name in dict.fromkeys(self.equalities)]
        return Index(self.kind, self.ancestor, (*equalities, *orders), len(equalities))


def index_satisfies(index: Index, needed: Index) -> bool:
    """Whether ``index`` serves queries needing ``needed`` (equality props in any order)."""
    if (index.kind, index.ancestor, len(index.properties)) != (
        needed.kind,
        needed.ancestor,
        len(needed.properties),
    ):
        return False
    head = needed.equalities
    return {p.name for p in index.properties[:head]} == {
        p.name for p in needed.properties[:head]
    } and index.properties[head:] == needed.properties[head:]


def required_indexes(shapes: t.Iterable[QueryShape]) -> list[tuple[QueryShape, Index]]:
    """Each query that needs a composite index, with that index."""
    return [(shape, index) for shape in shapes if (index := shape.required_index()) is not None]


# -- reading the source ----------------------------------------------------------------------


@dataclass
class _Model:
    kind: str
    properties: dict[str, str]  # attribute name -> datastore name


def find_queries(files: t.Iterable[tuple[str, Path]]) -> list[QueryShape]:
    """The query shapes in ``files`` (``(relative name, path)`` pairs) that can be known."""
    trees: list[tuple[str, ast.Module]] = []
    for name, path in files:
        try:
            trees.append((name, ast.parse(path.read_text(encoding="utf-8"), name)))
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
            continue
    models = _find_models(tree for _, tree in trees)
    shapes: list[QueryShape] = []
    for name, tree in trees:
        shapes += _queries_in(name, tree, models)
    return shapes


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _find_models(trees: t.Iterable[ast.Module]) -> dict[str, _Model]:
    classes = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    models: dict[str, _Model] = {}
    changed = True
    while changed:  # subclasses of models are models too
        changed = False
        for cls in classes:
            if cls.name in models:
                continue
            bases = {_base_name(b) for b in cls.bases}
            parent = next((models[b] for b in bases if b in models), None)
            if parent is None and not bases & _MODEL_BASES:
                continue
            models[cls.name] = _Model(
                _kind_of(cls), {**(parent.properties if parent else {}), **_properties_of(cls)}
            )
            changed = True
    return models


def _kind_of(cls: ast.ClassDef) -> str:
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == "_get_kind":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and isinstance(inner.value, ast.Constant):
                    return str(inner.value.value)
    return cls.name


def _properties_of(cls: ast.ClassDef) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in cls.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or not isinstance(node.value, ast.Call):
            continue
        func = _base_name(node.value.func)
        if func is None or not func.endswith("Property"):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        stored = None
        if node.value.args and isinstance(node.value.args[0], ast.Constant):
            stored = str(node.value.args[0].value)
        for keyword in node.value.keywords:
            if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                stored = str(keyword.value.value)
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = stored or target.id
    return found


class _Unknown(GaeError):
    """The query has a part that is only known at run time."""


def _queries_in(name: str, tree: ast.Module, models: dict[str, _Model]) -> list[QueryShape]:
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    shapes = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "query"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in models
        ):
            continue
        model = models[node.func.value.id]
        try:
            shapes.append(_shape(name, node, model, models, parents))
        except _Unknown:
            continue
    return shapes


def _shape(
    name: str,
    call: ast.Call,
    model: _Model,
    models: dict[str, _Model],
    parents: dict[ast.AST, ast.AST],
) -> QueryShape:
    equalities: list[str] = []
    inequalities: list[str] = []
    orders: list[IndexProperty] = []
    ancestor = False
    for keyword in call.keywords:
        if keyword.arg == "ancestor":
            ancestor = not (isinstance(keyword.value, ast.Constant) and keyword.value.value is None)
        elif keyword.arg in _SKIPPED_QUERY_KWARGS or keyword.arg is None:
            raise _Unknown
    for arg in call.args:
        _filter(arg, model, models, equalities, inequalities)
    node: ast.AST = call
    while True:
        attribute = parents.get(node)
        outer = parents.get(attribute) if attribute is not None else None
        if not (
            isinstance(attribute, ast.Attribute)
            and attribute.attr in {"filter", "order"}
            and isinstance(outer, ast.Call)
            and outer.func is attribute
        ):
            break
        if outer.keywords:
            raise _Unknown
        for arg in outer.args:
            if attribute.attr == "filter":
                _filter(arg, model, models, equalities, inequalities)
            else:
                orders.append(_order(arg, model, models))
        node = outer
    if len(set(inequalities)) > 1:
        raise _Unknown  # several inequality properties: not a shape we model
    return QueryShape(
        name,
        call.lineno,
        model.kind,
        ancestor,
        tuple(equalities),
        tuple(dict.fromkeys(inequalities)),
        tuple(orders),
    )


def _property(node: ast.expr, model: _Model, models: dict[str, _Model]) -> str:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and models.get(node.value.id) is model
    ):
        if node.attr == "key":
            return "__key__"
        if node.attr in model.properties:
            return model.properties[node.attr]
    raise _Unknown


def _filter(
    node: ast.expr,
    model: _Model,
    models: dict[str, _Model],
    equalities: list[str],
    inequalities: list[str],
) -> None:
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        prop = _property(node.left, model, models)
        if isinstance(node.ops[0], ast.Eq):
            equalities.append(prop)
        elif isinstance(node.ops[0], ast.Lt | ast.LtE | ast.Gt | ast.GtE | ast.NotEq):
            inequalities.append(prop)
        else:
            raise _Unknown
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in {"IN", "_IN"}:
            equalities.append(_property(node.func.value, model, models))
            return
        if node.func.attr == "AND" and not node.keywords:
            for arg in node.args:
                _filter(arg, model, models, equalities, inequalities)
            return
    raise _Unknown


def _order(node: ast.expr, model: _Model, models: dict[str, _Model]) -> IndexProperty:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return IndexProperty(_property(node.operand, model, models), "desc")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
        node = node.operand
    return IndexProperty(_property(node, model, models))
