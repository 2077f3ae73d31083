"""requirements.txt rules: what App Engine's build installs, and whether it is enough.

App Engine runs ``pip install -r requirements.txt`` and nothing else, so the file must
provide every import the app makes at start-up. For an app on this framework that is
either the ``gae-framework`` distribution (with the ``[gae]`` extra when it imports
``gae``), or, where ``framework/`` and ``gae/`` are copied into the project (vendored, like
this repository's sample app), their runtime dependencies.
"""

from __future__ import annotations

import os
import re
import typing as t
from importlib import metadata
from pathlib import Path

from .entrypoint import Requirement, read_requirements
from .yamlnodes import Finding

DISTRIBUTION = "gae-framework"
#: Runtime dependencies of the framework package, and what the gae package adds.
FRAMEWORK_DEPENDENCIES = ("werkzeug", "jinja2", "itsdangerous", "click", "blinker", "markupsafe")
GAE_DEPENDENCIES = ("google-cloud-ndb", "google-cloud-storage")
_IMPORT = re.compile(r"^\s*(?:import|from)\s+(framework|gae)\b", re.MULTILINE)
_SKIP_DIRS = frozenset(
    {".venv", "venv", ".git", "node_modules", "tests", "bench", "build", "dist", "__pycache__",
     "framework", "gae", "docs"}
)  # fmt: skip


def requirement_findings(root: Path, findings: list[Finding]) -> list[Requirement] | None:
    """The lines of requirements.txt (None when it is missing); appends what is wrong with
    them (missing file, unpinned, editable or local installs) to ``findings``."""
    path = root / "requirements.txt"
    if not path.is_file():
        findings.append(
            Finding(
                "requirements.txt",
                None,
                "error",
                "There is no requirements.txt, so App Engine installs no dependencies and "
                "the app fails to import.",
                "Add requirements.txt listing every runtime dependency pinned with '=='.",
                "requirements",
            )
        )
        return None
    requirements = read_requirements(path)
    for req in requirements:
        if req.name is not None:
            if not req.spec.startswith("=="):
                findings.append(
                    Finding(
                        "requirements.txt",
                        req.line,
                        "warning",
                        f"{req.raw!r} is not pinned, so each deploy may install a different "
                        "version from the one you tested.",
                        f"Pin it: '{req.name}==VERSION' (the version in 'pip freeze').",
                        "requirements-pin",
                    )
                )
            continue
        option = req.raw.split()[0]
        if option in {"-e", "--editable"} or req.raw.startswith(("-e", "--editable")):
            findings.append(
                Finding(
                    "requirements.txt",
                    req.line,
                    "error",
                    f"{req.raw!r} is an editable install, which App Engine's build cannot do.",
                    "List the package's runtime dependencies (pinned) instead; code in the "
                    "uploaded folder is importable as it is.",
                    "requirements-local",
                )
            )
        elif req.raw.startswith((".", "/")) or req.raw.startswith("file:"):
            findings.append(
                Finding(
                    "requirements.txt",
                    req.line,
                    "error",
                    f"{req.raw!r} installs a local path, which App Engine's build resolves "
                    "against its own copy and cannot install reliably.",
                    "Remove the line and list the runtime dependencies (pinned) instead; "
                    "packages in the uploaded folder are importable as they are.",
                    "requirements-local",
                )
            )
    return requirements


def project_sources(root: Path) -> t.Iterator[tuple[Path, str]]:
    """The project's own Python modules and their text (tests, virtualenvs and the
    vendored framework/ and gae/ left out)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(".py") and not name.startswith(("test_", "conftest")):
                path = Path(folder, name)
                try:
                    yield path, path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue


def imported_packages(root: Path) -> set[str]:
    """Which of ``framework`` and ``gae`` the project's own modules import."""
    found: set[str] = set()
    for _, source in project_sources(root):
        found.update(_IMPORT.findall(source))
    return found


_WRAP = re.compile(
    r"\bgae\.(?:wrap|AppEngine)\(|^\s*from\s+gae\s+import\s[^\n]*\b(?:wrap|AppEngine)\b",
    re.MULTILINE,
)


def uses_gae_wrap(root: Path) -> bool:
    """Whether the project wraps its app with ``gae.wrap`` (or ``gae.AppEngine``), which
    answers App Engine's warmup requests and refuses to start without a real SECRET_KEY."""
    return any(_WRAP.search(source) for _, source in project_sources(root))


def _pin(name: str) -> str:
    try:
        return f"{name}=={metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return f"{name}==VERSION"


def distribution_findings(root: Path, requirements: list[Requirement]) -> list[Finding]:
    """Errors when requirements.txt does not provide framework / gae and their dependencies."""
    used = imported_packages(root)
    if not used:
        return []  # not an app on this framework (e.g. plain Flask): nothing to provide
    names = {r.name: r for r in requirements if r.name}
    listed = names.get(DISTRIBUTION)
    vendored = {p for p in used if (root / p / "__init__.py").is_file()}
    if listed is not None:
        if "gae" in used and "gae" not in listed.extras:
            return [
                Finding(
                    "requirements.txt",
                    listed.line,
                    "error",
                    f"{listed.raw!r} installs {DISTRIBUTION} without its [gae] extra, but the "
                    "app imports gae, which needs google-cloud-ndb and google-cloud-storage.",
                    f"Write '{DISTRIBUTION}[gae]{listed.spec}'.",
                    "requirements-framework",
                )
            ]
        return []
    if vendored == used:
        wanted = [*FRAMEWORK_DEPENDENCIES, *(GAE_DEPENDENCIES if "gae" in used else ())]
        missing = [name for name in wanted if name not in names]
        if not missing:
            return []
        return [
            Finding(
                "requirements.txt",
                None,
                "error",
                f"The project vendors {' and '.join(sorted(vendored))}, but requirements.txt "
                f"does not list their dependencies {', '.join(missing)}, so the app fails "
                "to import on App Engine.",
                "Add these lines to requirements.txt: " + ", ".join(_pin(n) for n in missing) + ".",
                "requirements-framework",
            )
        ]
    which = " and ".join(sorted(used - vendored))
    version = _pin(DISTRIBUTION).partition("==")[2]
    return [
        Finding(
            "requirements.txt",
            None,
            "error",
            f"The app imports {which}, but requirements.txt does not install {DISTRIBUTION} "
            "(and the packages are not vendored into the project), so the app fails to "
            "import on App Engine.",
            f"Add '{DISTRIBUTION}[gae]=={version}' to requirements.txt (or copy the packages "
            "in with 'framework gae init --vendor').",
            "requirements-framework",
        )
    ]
