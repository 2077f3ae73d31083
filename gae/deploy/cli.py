"""``framework gae init|check``: scaffold an App Engine project, and check one before deploy.

Registered under the ``framework.commands`` entry-point group, so it appears in the
``framework`` command once this distribution is installed.
"""

from __future__ import annotations

from pathlib import Path

import click

from .checks import check_project
from .runtimes import B_CLASSES, F_CLASSES, FRAMEWORK_RUNTIMES
from .scaffold import ProjectOptions, ScaffoldError, package_name_for, write_project


@click.group("gae")
def gae() -> None:
    """Create and check App Engine projects (app.yaml, requirements, cron, indexes)."""


@gae.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--package", help="Python package of the app (default: from the folder name).")
@click.option(
    "--runtime",
    type=click.Choice(FRAMEWORK_RUNTIMES),
    default="python312",
    show_default=True,
    help="App Engine Python runtime.",
)
@click.option(
    "--scaling",
    type=click.Choice(["automatic", "basic", "manual"]),
    default="automatic",
    show_default=True,
)
@click.option(
    "--instance-class",
    type=click.Choice([*F_CLASSES, *B_CLASSES]),
    help="Default: F1 for automatic scaling, B2 for basic and manual.",
)
@click.option(
    "--entrypoint/--no-entrypoint",
    default=True,
    show_default=True,
    help="Write an explicit granian entrypoint (else App Engine's default: gunicorn on main:app).",
)
@click.option(
    "--threads",
    type=int,
    default=8,
    show_default=True,
    help="granian blocking threads (and backpressure) per worker.",
)
@click.option("--max-instances", type=int, default=3, show_default=True)
@click.option(
    "--vendor",
    is_flag=True,
    help="Copy framework/ and gae/ into the project instead of requiring gae-framework.",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init_command(
    directory: Path,
    package: str | None,
    runtime: str,
    scaling: str,
    instance_class: str | None,
    entrypoint: bool,
    threads: int,
    max_instances: int,
    vendor: bool,
    force: bool,
) -> None:
    """Write a new App Engine project into DIRECTORY (default: here)."""
    options = ProjectOptions(
        package=package or package_name_for(directory),
        runtime=runtime,
        scaling=scaling,
        instance_class=instance_class,
        entrypoint=entrypoint,
        threads=threads,
        max_instances=max_instances,
        vendor=vendor,
    )
    try:
        written = write_project(directory, options, force=force)
    except ScaffoldError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Wrote {len(written)} files to {directory} (package {options.package!r}):")
    for path in written:
        if path.parts[0] not in {"framework", "gae"}:
            click.echo(f"  {path.as_posix()}")
    click.echo(
        f"Next: cd {directory} && make test && make run; before the first deploy, store "
        "SECRET_KEY in Secret Manager (see README.md), then 'make deploy'."
    )
    if not vendor:
        # Until the distribution is on PyPI, pip finds it only where its wheel was built.
        click.echo(
            "requirements.txt installs gae-framework: if it is not on your package index "
            "yet, run 'PIP_FIND_LINKS=/path/to/gae-framework/dist make test', or use "
            "--vendor (README.md)."
        )


@gae.command("check")
@click.argument(
    "directory", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--gcloud/--no-gcloud",
    default=None,
    help="Require (or skip) gcloud's own parser; by default it is used when installed.",
)
@click.option(
    "--import-app/--no-import-app",
    default=True,
    show_default=True,
    help="Import the app (in a subprocess) to check cron URLs against its routes.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def check_command(directory: Path, gcloud: bool | None, import_app: bool, strict: bool) -> None:
    """Check the App Engine project in DIRECTORY before deploying it."""
    report = check_project(directory, gcloud=gcloud, import_app=import_app)
    for finding in report.findings:
        click.echo(str(finding), err=finding.severity == "error")
    summary = (
        f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in {directory} "
        f"(gcloud's parser: {report.gcloud})."
    )
    failed = bool(report.errors) or (strict and bool(report.warnings))
    click.echo(summary if failed else f"OK: {summary}")
    if failed:
        raise SystemExit(1)
