"""YAML read with line numbers, and the finding type every deploy check reports.

The checks need to say *where* a problem is, so files are read with PyYAML's compose API
(nodes carry their start mark) instead of ``safe_load``. Only the few shapes App Engine
files use are needed: mappings, sequences and scalars.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import Path

import yaml

Severity = t.Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem in a project: the file and line, what is wrong, and how to fix it."""

    file: str
    line: int | None
    severity: Severity
    message: str
    fix: str
    rule: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message} Fix: {self.fix}"


def line_of(node: yaml.Node | None) -> int | None:
    """The 1-based line where ``node`` starts."""
    return None if node is None else int(node.start_mark.line) + 1


def text(node: yaml.Node | None) -> str | None:
    """The value of a scalar node (``None`` for anything else)."""
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return None


def pairs(node: yaml.Node | None) -> list[tuple[str, yaml.Node, yaml.Node]]:
    """``(key, key node, value node)`` for each entry of a mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return []
    return [(str(k.value), k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]


def get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node under ``key`` in a mapping node."""
    for name, _, value in pairs(node):
        if name == key:
            return value
    return None


def items(node: yaml.Node | None) -> list[yaml.Node]:
    """The entries of a sequence node."""
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def number(node: yaml.Node | None) -> float | None:
    """A scalar read as a number, if it is one."""
    value = text(node)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


@dataclass
class YamlFile:
    """A parsed YAML file: its path relative to the project and its root node."""

    path: Path
    name: str
    root: yaml.Node | None

    @classmethod
    def load(cls, path: Path, name: str) -> tuple[YamlFile | None, Finding | None]:
        """Read ``path``; on a syntax error, a finding instead of the file."""
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as error:
            return None, Finding(
                name,
                None,
                "error",
                f"{name} could not be read ({error.strerror}).",
                f"Make sure {name} exists and is readable.",
                "yaml-syntax",
            )
        try:
            root = yaml.compose(source, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = int(mark.line) + 1 if mark is not None else None
            problem = error.problem or error.context or "invalid YAML"
            return None, Finding(
                name,
                line,
                "error",
                f"{name} is not valid YAML: {problem}.",
                "Correct the YAML syntax on that line (indent with spaces, quote values "
                "that contain ': ' or start with '*', '&', '!' or '%').",
                "yaml-syntax",
            )
        except yaml.YAMLError as error:
            return None, Finding(
                name,
                None,
                "error",
                f"{name} is not valid YAML: {error}.",
                "Correct the YAML syntax.",
                "yaml-syntax",
            )
        return cls(path, name, root), None

    def get(self, key: str) -> yaml.Node | None:
        """A top-level value node."""
        return get(self.root, key)

    def text(self, key: str) -> str | None:
        """A top-level scalar value."""
        return text(self.get(key))

    def key_line(self, key: str) -> int | None:
        """The line of a top-level key."""
        for name, key_node, _ in pairs(self.root):
            if name == key:
                return line_of(key_node)
        return None
