"""The code blocks of a Markdown page, with the ``docs-test`` markers that say how to run them.

A marker is an HTML comment on the line(s) right before a fenced block (invisible on
GitHub and in the built docs)::

    <!-- docs-test: skip: needs a deployed project -->   not run (the reason is required)
    <!-- docs-test: fresh -->                           run in a new, empty namespace
    <!-- docs-test: file hello.py -->                   write the block to that file instead
    <!-- docs-test: pytest tests/test_app.py -->        write it there, then run pytest on it
    <!-- docs-test: shell -->                           run it with bash (a sh/console block)
    <!-- docs-test: setup
    import os                                           hidden code run before the next block
    -->

and anywhere in a page, ``<!-- docs-test: page emulators -->`` runs the page with the
Datastore and Cloud Storage emulators (their environment variables set), and
``<!-- docs-test: page extensions -->`` with the Flask extensions of
``tests/extensions/requirements.txt`` importable (what ``pip install Flask-Login ...``
gives a reader).

Without a marker, ``python`` blocks run in order in one namespace per page, ``pycon``
blocks are doctests in that namespace, ``yaml``/``toml``/``json`` blocks must parse, and
every other language (``sh``, ``html``, ``text``, ...) is shown, not run.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<body>.*?)\s*-->", re.DOTALL)
ACTIONS = frozenset({"skip", "fresh", "file", "pytest", "shell", "setup"})
RUN_LANGUAGES = frozenset({"python", "pycon", "yaml", "toml", "json"})


@dataclass
class Block:
    """One fenced block of a page."""

    page: str
    line: int  # 1-based line of the first line of code
    language: str
    code: str
    action: str | None = None  # from the marker: one of ACTIONS
    argument: str = ""  # the marker's path, reason or hidden code
    setup: list[str] = field(default_factory=list)  # hidden code run before this block

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        """Whether the test suite executes (or at least checks) this block."""
        if self.action == "skip":
            return False
        return self.action is not None or self.language in RUN_LANGUAGES


@dataclass
class Page:
    path: Path
    blocks: list[Block]
    emulators: bool
    extensions: bool = False


def _dedent(lines: list[str], indent: str) -> str:
    out = []
    for line in lines:
        out.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
    return "\n".join(out) + "\n"


def parse_marker(body: str, where: str) -> tuple[str, str]:
    """(action, argument) of a marker's text; raises ValueError for a malformed one."""
    action, _, rest = body.partition("\n") if body.startswith("setup") else body.partition(" ")
    action = action.rstrip(":").strip()
    rest = rest.strip()
    if action not in ACTIONS:
        raise ValueError(
            f"{where}: unknown docs-test marker {body!r}; use one of {', '.join(sorted(ACTIONS))}."
        )
    if action == "skip":
        rest = rest.lstrip(":").strip()
        if not rest:
            raise ValueError(f"{where}: 'docs-test: skip' needs a reason: 'skip: why'.")
    if action in {"file", "pytest"} and not rest:
        raise ValueError(f"{where}: 'docs-test: {action}' needs a path.")
    return action, rest


def parse_page(path: Path, root: Path) -> Page:
    """The fenced blocks of ``path`` with their markers."""
    name = path.relative_to(root).as_posix()
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    page_markers = [m.group("body") for m in _MARKER.finditer(text)]
    emulators = any(body.strip() == "page emulators" for body in page_markers)
    extensions = any(body.strip() == "page extensions" for body in page_markers)
    blocks: list[Block] = []
    pending_setup: list[str] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match or not match.group("info").strip():
            i += 1
            continue
        indent, fence = match.group("indent"), match.group("fence")
        language = match.group("info").strip().split()[0].lower()
        end = i + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence) and lines[end].strip().strip(fence[0]) == ""
        ):
            end += 1
        if language.startswith("{"):  # a MyST directive such as {toctree}
            i = end + 1
            continue
        block = Block(name, i + 2, language, _dedent(lines[i + 1 : end], indent))
        for body in _markers_before(lines, i):
            if body.startswith("page "):
                continue
            action, argument = parse_marker(body, block.where)
            if action == "setup":
                pending_setup.append(argument)
            elif block.action is not None:
                raise ValueError(f"{block.where}: two docs-test markers for one block.")
            else:
                block.action, block.argument = action, argument
        if block.runs and pending_setup:
            block.setup, pending_setup = pending_setup, []
        blocks.append(block)
        i = end + 1
    return Page(path, blocks, emulators, extensions)


def _markers_before(lines: list[str], fence_line: int) -> list[str]:
    """The bodies of the docs-test comments right above ``fence_line``, top first."""
    bodies: list[str] = []
    j = fence_line - 1
    while j >= 0 and lines[j].strip().endswith("-->"):
        start = j
        while start >= 0 and "<!--" not in lines[start]:
            start -= 1
        if start < 0:
            break
        match = _MARKER.search("\n".join(lines[start : j + 1]))
        if match is None:
            break
        bodies.insert(0, match.group("body"))
        j = start - 1
    return bodies


def pages(root: Path, patterns: t.Iterable[str]) -> list[Page]:
    """Every page matching ``patterns`` (globs relative to ``root``), sorted."""
    found: set[Path] = set()
    for pattern in patterns:
        found.update(root.glob(pattern))
    return [parse_page(path, root) for path in sorted(found)]
