"""Reading an ``entrypoint`` command line and a ``requirements.txt`` the way App Engine will.

App Engine runs the ``entrypoint`` of ``app.yaml`` in a shell with ``PORT`` set, after
installing ``requirements.txt`` with pip. These helpers pull out what the checks need: the
server program, where gunicorn or granian binds, its worker model, the ``module:variable``
it serves, and which distributions the requirements name. :func:`local_argv` turns an
entrypoint into the command line to run it on a loopback port here (tests, benchmarks).
"""

from __future__ import annotations

import ast
import re
import shlex
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

#: gunicorn options that take a value (the rest are flags); enough to find APP_MODULE.
_GUNICORN_VALUE_OPTIONS = frozenset(
    {
        "-b", "--bind", "-w", "--workers", "-k", "--worker-class", "--threads", "-t",
        "--timeout", "-c", "--config", "--graceful-timeout", "--keep-alive",
        "--max-requests", "--max-requests-jitter", "--log-level", "--access-logfile",
        "--error-logfile", "--log-file", "--access-logformat", "--chdir", "--pythonpath",
        "-e", "--env", "--worker-connections", "--limit-request-line",
        "--limit-request-fields", "--limit-request-field_size", "--forwarded-allow-ips",
        "-n", "--name", "-u", "--user", "-g", "--group", "-m", "--umask", "-p", "--pid",
        "--worker-tmp-dir", "--backlog", "--logger-class", "--log-config", "--paste",
        "--statsd-host", "--statsd-prefix", "--certfile", "--keyfile", "--ca-certs",
        "--ssl-version", "--ciphers", "--proxy-allow-from", "--proxy-protocol",
        "--log-syslog-to", "--log-syslog-prefix", "--log-syslog-facility", "--dogstatsd-tags",
        "--reload-engine", "--reload-extra-file", "--raw-env", "--header-map",
    }
)  # fmt: skip

#: granian options that are flags (``--ws``/``--no-ws`` pairs); every other option takes a
#: value (``granian --help``, 2.x).
_GRANIAN_FLAGS = frozenset(
    {
        "--ws", "--http1-keep-alive", "--http1-pipeline-flush", "--http2-adaptive-window",
        "--log", "--access-log", "--ssl-client-verify", "--respawn-failed-workers",
        "--factory", "--metrics", "--reload", "--reload-ignore-worker-failure", "--version",
        "--help",
    }
)  # fmt: skip
#: granian's defaults for what the checks read (it binds loopback unless told otherwise).
GRANIAN_DEFAULTS = {"host": "127.0.0.1", "port": "8000", "interface": "rsgi"}

#: Programs App Engine can only run when requirements.txt installs them.
SERVER_DISTRIBUTIONS = {
    "gunicorn": "gunicorn",
    "granian": "granian",
    "uvicorn": "uvicorn",
    "hypercorn": "hypercorn",
    "waitress-serve": "waitress",
    "daphne": "daphne",
}


@dataclass
class Entrypoint:
    """What an ``entrypoint`` line runs."""

    command: str
    program: str | None = None
    binds: list[str] = field(default_factory=list)
    workers: int | None = None
    threads: int | None = None
    worker_class: str | None = None
    config_file: str | None = None
    chdir: str | None = None
    app_target: str | None = None
    error: str | None = None
    #: granian's --host, --port and --interface (None when not given).
    host: str | None = None
    port: str | None = None
    interface: str | None = None
    #: granian's threads per worker that run the WSGI app, and its cap on requests in Python.
    blocking_threads: int | None = None
    backpressure: int | None = None

    @property
    def is_gunicorn(self) -> bool:
        """Whether gunicorn is the server."""
        return self.program == "gunicorn"

    @property
    def is_granian(self) -> bool:
        """Whether granian is the server."""
        return self.program == "granian"

    @property
    def threaded(self) -> bool:
        """Whether gunicorn serves requests on threads (gthread, or sync with --threads > 1)."""
        return self.worker_class == "gthread" or (self.threads or 1) > 1


def parse_entrypoint(command: str) -> Entrypoint:
    """Split ``command`` like the shell App Engine runs it in and read gunicorn's options."""
    result = Entrypoint(command)
    try:
        argv = shlex.split(command)
    except ValueError as error:
        result.error = str(error)
        return result
    if argv and argv[0] == "exec":
        argv = argv[1:]
    while argv and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", argv[0]):
        argv = argv[1:]  # VAR=value prefixes
    if not argv:
        return result
    program = Path(argv[0]).name
    rest = argv[1:]
    if re.fullmatch(r"python[0-9.]*", program) and rest[:2] in (
        ["-m", "gunicorn"],
        ["-m", "granian"],
    ):
        program, rest = rest[1], rest[2:]
    result.program = program
    if program == "gunicorn":
        _read_gunicorn(rest, result)
    elif program == "granian":
        _read_granian(rest, result)
    return result


def _read_granian(argv: list[str], result: Entrypoint) -> None:
    positional: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if not token.startswith("--"):
            positional.append(token)
            continue
        if "=" in token:
            option, value = token.split("=", 1)
        elif token in _GRANIAN_FLAGS or token.startswith("--no-"):
            continue
        else:
            option = token
            value = argv[index] if index < len(argv) else ""
            index += 1
        if option == "--host":
            result.host = value
        elif option == "--port":
            result.port = value
        elif option == "--interface":
            result.interface = value
        elif option == "--workers":
            result.workers = _int(value)
        elif option == "--blocking-threads":
            result.blocking_threads = _int(value)
        elif option == "--backpressure":
            result.backpressure = _int(value)
        elif option == "--working-dir":
            result.chdir = value
    if positional:
        result.app_target = positional[-1]


def port_is_env(value: str | None) -> bool:
    """Whether a ``--port`` value is App Engine's ``$PORT`` (or ``${PORT}``)."""
    return value in {"$PORT", "${PORT}"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from the instance itself."""
    return host in {"localhost", "::1", "[::1]"} or host.startswith("127.")


def _read_gunicorn(argv: list[str], result: Entrypoint) -> None:
    positional: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if not token.startswith("-") or token == "-":
            positional.append(token)
            continue
        if token.startswith("--") and "=" in token:
            option, value = token.split("=", 1)
        elif token in _GUNICORN_VALUE_OPTIONS:
            option = token
            value = argv[index] if index < len(argv) else ""
            index += 1
        elif len(token) > 2 and token[1] != "-" and token[:2] in _GUNICORN_VALUE_OPTIONS:
            option, value = token[:2], token[2:]  # -b:8080, -w2
        else:
            continue  # a flag
        if option in {"-b", "--bind"}:
            result.binds.append(value)
        elif option in {"-w", "--workers"}:
            result.workers = _int(value)
        elif option == "--threads":
            result.threads = _int(value)
        elif option in {"-k", "--worker-class"}:
            result.worker_class = value
        elif option in {"-c", "--config"}:
            result.config_file = value
        elif option == "--chdir":
            result.chdir = value
    if positional:
        result.app_target = positional[-1]


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def bind_uses_port(bind: str) -> bool:
    """Whether a gunicorn bind address takes its port from ``$PORT``."""
    return bool(re.search(r":\$(PORT\b|\{PORT\})", bind))


def bind_host(bind: str) -> str:
    """The host part of a bind address (``""`` for ``:PORT``, meaning all interfaces)."""
    if bind.startswith("unix:"):
        return bind
    host, _, _ = bind.rpartition(":")
    return host.strip("[]")


# -- running an entrypoint here --------------------------------------------------------------

#: Hosts an entrypoint binds for App Engine's front end (all interfaces).
_ALL_INTERFACES = frozenset({"0.0.0.0", "[::]", "::"})


def app_yaml_entrypoint(app_yaml: Path) -> str:
    """The ``entrypoint`` command line of ``app_yaml`` (``""`` when it has none)."""
    import yaml

    data = yaml.safe_load(app_yaml.read_text(encoding="utf-8")) or {}
    return str(data.get("entrypoint") or "")


def local_argv(
    command: str,
    host: str,
    port: int,
    *,
    bin_dir: Path,
    targets: dict[str, str] | None = None,
) -> list[str]:
    """An app.yaml ``entrypoint`` as the argv to run here: the program from ``bin_dir``
    (a virtualenv's ``bin``), bound to ``host:port`` instead of App Engine's ``:$PORT`` or
    ``0.0.0.0`` + ``$PORT``, and each app in ``targets`` (``{"main:app": "other:app"}``)
    replaced. Nothing else changes, so what runs is what App Engine runs."""
    words = shlex.split(command)
    if words and words[0] == "exec":
        words = words[1:]
    swap = dict.fromkeys(_ALL_INTERFACES, host) | (targets or {})
    out = [str(bin_dir / Path(words[0]).name)]
    for word in words[1:]:
        bound = word.replace(":$PORT", f"{host}:{port}").replace(":${PORT}", f"{host}:{port}")
        bound = bound.replace("${PORT}", str(port)).replace("$PORT", str(port))
        out.append(swap.get(bound, bound))
    return out


# -- app targets --------------------------------------------------------------------------


def module_file(root: Path, module: str) -> Path | None:
    """The source file of a dotted module name under ``root``, if it exists."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def defined_names(path: Path) -> set[str] | None:
    """Top-level names a module binds (assignments, defs, classes, imports); None if unparsable."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(_target_names(target))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            names.update(_target_names(node.target))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
    return names


def _target_names(target: ast.expr) -> t.Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _target_names(element)


# -- requirements.txt -----------------------------------------------------------------------

_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$")


@dataclass
class Requirement:
    """One line of requirements.txt."""

    line: int
    raw: str
    name: str | None
    spec: str
    #: The extras asked for (``gae-framework[gae,tasks]`` -> ``{"gae", "tasks"}``).
    extras: frozenset[str] = frozenset()


def canonical_name(name: str) -> str:
    """A distribution name normalised as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_requirements(path: Path) -> list[Requirement]:
    """The requirement lines of ``path`` (comments and blank lines dropped)."""
    found: list[Requirement] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = _NAME.match(line)
        if match is None or line.startswith((".", "/", "-")) or "://" in line:
            found.append(Requirement(number, line, None, ""))
            continue
        spec = match.group(3).split(";", 1)[0].strip()
        extras = frozenset(
            canonical_name(extra.strip())
            for extra in (match.group(2) or "[]")[1:-1].split(",")
            if extra.strip()
        )
        found.append(Requirement(number, line, canonical_name(match.group(1)), spec, extras))
    return found
