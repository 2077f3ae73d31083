"""`framework gae init` and `framework gae check`: templates, the repository, broken files.

Every project is checked by both validators: gcloud's own parser (the Google Cloud CLI's
bundled Python) and our rules. Nothing here talks to the network.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from gae.deploy.checks import CheckReport, check_project
from gae.deploy.cli import gae as gae_group
from gae.deploy.entrypoint import parse_entrypoint, read_requirements
from gae.deploy.gcloud import parse_with_gcloud
from gae.deploy.scaffold import ProjectOptions, ScaffoldError, render_project, write_project

ROOT = Path(__file__).resolve().parents[3]

OPTION_SETS = {
    "default": ProjectOptions(package="shop"),
    "f4-python313": ProjectOptions(package="shop", runtime="python313", instance_class="F4"),
    "no-entrypoint": ProjectOptions(package="shop", entrypoint=False, runtime="python311"),
    "basic-b4": ProjectOptions(package="shop", scaling="basic", instance_class="B4"),
    "manual-vendored": ProjectOptions(package="board", scaling="manual", vendor=True),
}


def _summary(report: CheckReport) -> str:
    return "\n".join(str(f) for f in report.findings) or "no findings"


@pytest.mark.parametrize("name", sorted(OPTION_SETS))
def test_rendered_templates_pass_both_validators(name: str, tmp_path: Path) -> None:
    options = OPTION_SETS[name]
    write_project(tmp_path, options)
    report = check_project(tmp_path, gcloud=True)
    assert report.gcloud == "used"
    assert report.findings == [], _summary(report)
    app_yaml = (tmp_path / "app.yaml").read_text()
    assert f"runtime: {options.runtime}" in app_yaml
    assert f"instance_class: {options.effective_class}" in app_yaml
    assert f"{options.scaling}_scaling:" in app_yaml
    entrypoint = "entrypoint: granian --interface wsgi --host 0.0.0.0 --port $PORT"
    assert (entrypoint in app_yaml) is options.entrypoint
    requirements = (tmp_path / "requirements.txt").read_text()
    assert ("granian==" in requirements) is options.entrypoint
    assert ("gae-framework[gae]==" in requirements) is not options.vendor
    assert (tmp_path / "framework" / "__init__.py").exists() is options.vendor


@pytest.mark.parametrize("vendor", [False, True])
def test_rendered_python_is_lint_clean(vendor: bool, tmp_path: Path) -> None:
    write_project(tmp_path, ProjectOptions(package="shop", vendor=vendor))
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "main.py", "shop"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_project_tests_pass_on_the_emulators(tmp_path: Path) -> None:
    write_project(tmp_path, ProjectOptions(package="shop"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout


def test_template_options_are_validated() -> None:
    with pytest.raises(ScaffoldError, match="does not work with automatic scaling"):
        render_project(ProjectOptions(instance_class="B2"))
    with pytest.raises(ScaffoldError, match="not supported; use one of python311"):
        render_project(ProjectOptions(runtime="python39"))
    with pytest.raises(ScaffoldError, match="not a Python identifier"):
        render_project(ProjectOptions(package="my-app"))


def test_repository_root_passes_check() -> None:
    report = check_project(ROOT, gcloud=True)
    assert report.gcloud == "used"
    assert report.findings == [], _summary(report)


def test_root_app_yaml_is_what_the_issue_asks_for() -> None:
    text = (ROOT / "app.yaml").read_text()
    assert re.search(r"^runtime: python31[23]$", text, re.M)
    assert "entrypoint: granian --interface wsgi --host 0.0.0.0 --port $PORT --workers 1" in text
    assert "sample_app.main:app" in text
    assert "inbound_services:\n- warmup" in text
    assert "secure: always" in text
    assert "expiration: 1d" in text
    assert "SECRET_KEY:" not in text


def test_granian_entrypoint_names_the_app_it_serves() -> None:
    # What the cron and upload checks import: module:variable, not an option's value.
    command = "granian --interface wsgi --host 0.0.0.0 --port $PORT --workers 1 main:app"
    assert parse_entrypoint(command).app_target == "main:app"
    assert parse_entrypoint("granian --interface wsgi --port $PORT").app_target is None


def test_root_requirements_are_pinned_to_the_tested_versions() -> None:
    requirements = read_requirements(ROOT / "requirements.txt")
    names = {r.name for r in requirements}
    assert names == {
        "werkzeug",
        "jinja2",
        "itsdangerous",
        "click",
        "blinker",
        "markupsafe",
        "google-cloud-ndb",
        "google-cloud-storage",
        "google-cloud-tasks",
        "granian",
    }
    for requirement in requirements:
        assert requirement.name is not None
        assert requirement.spec == f"=={metadata.version(requirement.name)}", requirement.raw


def test_root_upload_leaves_out_tests_and_local_data() -> None:
    uploaded = parse_with_gcloud(ROOT, ["app.yaml"]).uploaded
    assert uploaded is not None
    assert "requirements.txt" in uploaded
    assert "sample_app/main.py" in uploaded
    assert "framework/app.py" in uploaded
    assert "gae/wsgi.py" in uploaded
    assert "sample_app/static/style.css" in uploaded
    for prefix in ("tests/", "bench/", "docs/", ".venv/", ".emulators/", ".git/"):
        assert not [name for name in uploaded if name.startswith(prefix)], prefix
    assert not [name for name in uploaded if "__pycache__" in name]


# -- broken projects ---------------------------------------------------------------------------

APP = "app.yaml"
BROKEN = {
    # name: (file to edit, old text, new text, rule, "file:line" of the finding, words)
    "retired runtime": (
        APP,
        "runtime: python312",
        "runtime: python27",
        "runtime",
        "app.yaml:3",
        "end of",
    ),
    "unknown runtime": (
        APP,
        "runtime: python312",
        "runtime: python3122",
        "runtime",
        "app.yaml:3",
        "mean",
    ),
    "old python": (
        APP,
        "runtime: python312",
        "runtime: python310",
        "runtime",
        "app.yaml:3",
        "3.11",
    ),
    "B class, automatic": (
        APP,
        "class: F1",
        "class: B2",
        "instance-class",
        "app.yaml:6",
        "basic_scaling",
    ),
    "unknown class": (APP, "class: F1", "class: F3", "instance-class", "app.yaml:6", "F1, F2"),
    "granian no port": (
        APP,
        "--port $PORT ",
        "",
        "entrypoint-port",
        "app.yaml:12",
        "8000 (granian's default)",
    ),
    "granian fixed port": (
        APP,
        "--port $PORT",
        "--port 8080",
        "entrypoint-port",
        "app.yaml:12",
        "8080",
    ),
    "granian no host": (
        APP,
        "--host 0.0.0.0 ",
        "",
        "entrypoint-port",
        "app.yaml:12",
        "127.0.0.1 (granian's default), a loopback",
    ),
    "granian loopback": (
        APP,
        "--host 0.0.0.0",
        "--host 127.0.0.1",
        "entrypoint-port",
        "app.yaml:12",
        "loopback",
    ),
    "granian asgi": (
        APP,
        "--interface wsgi",
        "--interface asgi",
        "entrypoint-interface",
        "app.yaml:12",
        "WSGI",
    ),
    "granian no interface": (
        APP,
        "--interface wsgi ",
        "",
        "entrypoint-interface",
        "app.yaml:12",
        "'rsgi' interface (granian's default)",
    ),
    "granian backpressure": (
        APP,
        "--backpressure 8",
        "--backpressure 4",
        "entrypoint-sizing",
        "app.yaml:12",
        "1 worker(s) x --backpressure 4 = 4",
    ),
    "granian no backpressure": (
        APP,
        "--backpressure 8 ",
        "",
        "entrypoint-sizing",
        "app.yaml:12",
        "--backpressure 8",
    ),
    "gunicorn: no bind": (
        APP,
        "--bind :$PORT ",
        "",
        "entrypoint-port",
        "app.yaml:12",
        "127.0.0.1:8000",
    ),
    "gunicorn: loopback bind": (
        APP,
        "--bind :$PORT",
        "--bind 127.0.0.1:$PORT",
        "entrypoint-port",
        "app.yaml:12",
        "loopback",
    ),
    "gunicorn: fixed port": (
        APP,
        "--bind :$PORT",
        "--bind :8080",
        "entrypoint-port",
        "app.yaml:12",
        "not $PORT",
    ),
    "missing app": (
        APP,
        "main:app",
        "main:application",
        "entrypoint-app",
        "app.yaml:12",
        "defines no",
    ),
    "missing module": (APP, "main:app", "web:app", "entrypoint-app", "app.yaml:12", "web.py"),
    "gunicorn: missing app": (
        APP,
        "main:app",
        "main:application",
        "entrypoint-app",
        "app.yaml:12",
        "defines no",
    ),
    "gunicorn: sync workers": (
        APP,
        "--worker-class gthread --workers 1 --threads 8",
        "--workers 1",
        "entrypoint-sizing",
        "app.yaml:12",
        "sync",
    ),
    "too many workers": (
        APP,
        "--workers 1",
        "--workers 6",
        "entrypoint-sizing",
        "app.yaml:12",
        "memory",
    ),
    "gunicorn: too many workers": (
        APP,
        "--workers 1",
        "--workers 6",
        "entrypoint-sizing",
        "app.yaml:12",
        "memory",
    ),
    "static dir": (
        APP,
        "static_dir: shop/static",
        "static_dir: shop/assets",
        "static-path",
        "app.yaml:29",
        "404",
    ),
    "script": (APP, "script: auto", "script: main.app", "handler-script", "app.yaml:33", "auto"),
    "insecure": (
        APP,
        "  secure: always\n  expiration",
        "  expiration",
        "handler-secure",
        "app.yaml:28",
        "HTTP",
    ),
    "secret name": (
        APP,
        '"33554432"',
        '"33554432"\n  SECRET_KEY: k9f3',
        "env-secret",
        "app.yaml:39",
        "Secret Manager",
    ),
    "secret url": (
        APP,
        '"33554432"',
        '"33554432"\n  DB_URL: postgres://u:hunter2@db/x',
        "env-secret",
        "app.yaml:39",
        "password",
    ),
    "random value": (
        APP,
        '"33554432"',
        '"33554432"\n  SIGNER: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
        "env-secret",
        "app.yaml:39",
        "random",
    ),
    "reserved env": (
        APP,
        '"33554432"',
        '"33554432"\n  PORT: "80"',
        "env-reserved",
        "app.yaml:39",
        "PORT",
    ),
    "typo key (gcloud)": (
        APP,
        "instance_class:",
        "instance_clas:",
        "gcloud",
        "app.yaml:6",
        "instance_class",
    ),
    "bad yaml": (
        APP,
        "runtime: python312",
        "runtime: [python312",
        "yaml-syntax",
        "app.yaml:6",
        "YAML",
    ),
    "min over max": (
        APP,
        "min_instances: 0",
        "min_instances: 5",
        "scaling",
        "app.yaml:19",
        "larger",
    ),
    "cpu target": (
        APP,
        "utilization: 0.65",
        "utilization: 0.99",
        "scaling",
        "app.yaml:17",
        "0.5-0.95",
    ),
    "no max_instances": (APP, "  max_instances: 3\n", "", "scaling-limit", "app.yaml:14", "20"),
    "no warmup": (APP, "inbound_services:\n- warmup\n", "", "warmup", "app.yaml:3", "warmup"),
    "cron target": (
        "cron.yaml",
        "/tasks/session-cleanup",
        "/tasks/cleanup",
        "cron-target",
        "cron.yaml:4",
        "404",
    ),
    "cron redirect": (
        "cron.yaml",
        "/tasks/session-cleanup",
        "/tasks/session-cleanup/",
        "cron-target",
        "cron.yaml:4",
        "404",
    ),
    "editable": (
        "requirements.txt",
        "granian==",
        "-e .\ngranian==",
        "requirements-local",
        "requirements.txt:3",
        "editable",
    ),
    "local path": (
        "requirements.txt",
        "granian==",
        ".\ngranian==",
        "requirements-local",
        "requirements.txt:3",
        "local path",
    ),
    "no granian": (
        "requirements.txt",
        "granian==",
        "waitress==",
        "entrypoint-requirement",
        "app.yaml:12",
        "granian",
    ),
    "gunicorn: no gunicorn": (
        "requirements.txt",
        "gunicorn==",
        "waitress==",
        "entrypoint-requirement",
        "app.yaml:12",
        "gunicorn",
    ),
    "unpinned": (
        "requirements.txt",
        "granian==",
        "granian>=",
        "requirements-pin",
        "requirements.txt:3",
        "Pin",
    ),
    "static ignored": (
        ".gcloudignore",
        "tests/\n",
        "tests/\nshop/static/\n",
        "upload-missing",
        "app.yaml:29",
        "not deployed",
    ),
    "env uploaded": (".gcloudignore", ".env\n", "", "upload-secret", ".env", "secrets"),
}
WARNING_RULES = {
    "entrypoint-sizing",
    "handler-secure",
    "requirements-pin",
    "scaling-limit",
    "warmup",
}


GUNICORN = "gunicorn --bind :$PORT --worker-class gthread --workers 1 --threads 8 main:app"


def use_gunicorn(project: Path) -> None:
    """Switch a generated project to gunicorn, the documented alternative to granian."""
    app_yaml = project / "app.yaml"
    app_yaml.write_text(
        re.sub(r"^entrypoint: .*$", f"entrypoint: {GUNICORN}", app_yaml.read_text(), flags=re.M)
    )
    requirements = project / "requirements.txt"
    requirements.write_text(
        re.sub(r"^granian==.*$", "gunicorn==27.0.1", requirements.read_text(), flags=re.M)
    )


def test_gunicorn_alternative_passes_check(tmp_path: Path) -> None:
    write_project(tmp_path, ProjectOptions(package="shop"))
    use_gunicorn(tmp_path)
    report = check_project(tmp_path, gcloud=True)
    assert report.findings == [], _summary(report)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_projects_fail_with_clear_messages(name: str, tmp_path: Path) -> None:
    file, old, new, rule, where, words = BROKEN[name]
    write_project(tmp_path, ProjectOptions(package="shop"))
    if name.startswith("gunicorn: "):
        use_gunicorn(tmp_path)
    path = tmp_path / file
    source = path.read_text()
    assert old in source, f"the template changed: {old!r} is not in {file}"
    path.write_text(source.replace(old, new, 1))
    if name == "env uploaded":
        (tmp_path / ".env").write_text("SECRET_KEY=x\n")
    report = check_project(tmp_path, gcloud=True)
    matching = [f for f in report.findings if f.rule == rule]
    assert matching, _summary(report)
    shown = [str(f) for f in matching]
    assert any(s.startswith(f"{where}:") for s in shown), _summary(report)
    finding = next(f for f in matching if str(f).startswith(f"{where}:"))
    assert "Fix: " in str(finding)
    assert words in str(finding), str(finding)
    assert finding.message.endswith((".", ")", "?")), finding.message
    assert finding.severity == ("warning" if rule in WARNING_RULES else "error"), str(finding)
    assert report.ok is (not report.errors)
    if finding.severity == "error":
        assert not report.ok


def test_our_rules_alone_catch_unknown_keys(tmp_path: Path) -> None:
    write_project(tmp_path, ProjectOptions(package="shop"))
    app_yaml = tmp_path / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace("instance_class:", "instance_clas:"))
    report = check_project(tmp_path, gcloud=False)
    assert report.gcloud.startswith("skipped")
    [finding] = [f for f in report.findings if f.rule == "unknown-key"]
    assert finding.line == 6
    assert "did you mean 'instance_class'?" in finding.message


def test_query_needing_an_index_is_reported_at_its_line(tmp_path: Path) -> None:
    write_project(tmp_path, ProjectOptions(package="shop"))
    (tmp_path / "shop" / "models.py").write_text(
        "from google.cloud import ndb\n\n\n"
        "class Notice(ndb.Model):\n"
        "    board = ndb.StringProperty()\n"
        "    created = ndb.DateTimeProperty()\n\n\n"
        "def latest(board):\n"
        "    return Notice.query(Notice.board == board).order(-Notice.created).fetch(20)\n"
    )
    report = check_project(tmp_path, gcloud=True)
    [finding] = report.findings
    assert (finding.file, finding.line, finding.rule) == ("shop/models.py", 10, "index-missing")
    assert "- kind: Notice\n  properties:\n  - name: board\n  - name: created\n" in finding.fix
    (tmp_path / "index.yaml").write_text(
        "indexes:\n- kind: Notice\n  properties:\n  - name: board\n"
        "  - name: created\n    direction: desc\n"
    )
    assert check_project(tmp_path, gcloud=True).findings == []


# -- the command line -------------------------------------------------------------------------


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(gae_group, ["init", str(tmp_path), "--package", "shop"])
    assert result.exit_code == 0, result.output
    assert "Wrote 18 files" in result.output
    (tmp_path / "main.py").write_text("# mine\n")
    again = runner.invoke(gae_group, ["init", str(tmp_path), "--package", "shop"])
    assert again.exit_code == 1
    assert "already has" in again.output and "--force" in again.output
    assert (tmp_path / "main.py").read_text() == "# mine\n"
    forced = runner.invoke(gae_group, ["init", str(tmp_path), "--package", "shop", "--force"])
    assert forced.exit_code == 0
    assert "gae.wrap(create_app())" in (tmp_path / "main.py").read_text()


def test_check_exit_status_and_output(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(gae_group, ["init", str(tmp_path), "--package", "shop"])
    good = runner.invoke(gae_group, ["check", str(tmp_path)])
    assert good.exit_code == 0, good.output
    assert "OK: 0 error(s), 0 warning(s)" in good.output
    app_yaml = tmp_path / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace("python312", "python310"))
    bad = runner.invoke(gae_group, ["check", str(tmp_path)])
    assert bad.exit_code == 1
    assert "app.yaml:3: error: runtime 'python310' runs Python 3.10" in bad.output
    assert "1 error(s)" in bad.output


def test_framework_command_runs_gae_check_on_the_repository() -> None:
    framework = Path(sys.executable).with_name("framework")
    done = subprocess.run(
        [str(framework), "gae", "check", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: 0 error(s), 0 warning(s)" in done.stdout
    assert "gcloud's parser: used" in done.stdout


def test_tool_pins_are_the_tested_versions() -> None:
    # What `gae init` pins for tools is what this repository runs and tests with.
    from gae.deploy.scaffold import TOOL_VERSIONS

    pinned = {}
    for name in ("requirements.txt", "requirements-run.txt", "requirements-dev.txt"):
        for requirement in read_requirements(ROOT / name):
            if requirement.name and requirement.spec.startswith("=="):
                pinned[requirement.name] = requirement.spec[2:]
    assert {name: pinned[name] for name in TOOL_VERSIONS} == TOOL_VERSIONS


def test_scaffold_never_pins_a_version_it_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from gae.deploy import scaffold

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    # Tools come from the tested table even where they are not installed ...
    monkeypatch.setattr(metadata, "version", not_installed)
    runtime, dev = scaffold.requirements_for(
        ProjectOptions(vendor=True, pins=dict.fromkeys(scaffold.RUNTIME_DEPENDENCIES, "1.0"))
    )
    assert "gcp-storage-emulator==2026.7.19" in dev
    assert not [line for line in runtime + dev if line.endswith("==0")]
    # ... and a runtime dependency that is not installed is an error naming the fix.
    with pytest.raises(ScaffoldError, match=r"werkzeug is not installed here.*pip install"):
        scaffold.requirements_for(ProjectOptions(vendor=True))


def test_granian_options_are_read() -> None:
    entry = parse_entrypoint(
        "granian --interface=wsgi --host 0.0.0.0 --port $PORT --workers 2 --no-ws "
        "--blocking-threads 8 --backpressure 4 --http 1 --log-level warning main:app"
    )
    assert (entry.program, entry.interface, entry.host, entry.port) == (
        "granian",
        "wsgi",
        "0.0.0.0",
        "$PORT",
    )
    assert (entry.workers, entry.blocking_threads, entry.backpressure) == (2, 8, 4)
    assert entry.app_target == "main:app"
    assert parse_entrypoint("python -m granian --port $PORT main:app").is_granian


def test_local_argv_only_changes_the_bind_and_the_app(tmp_path: Path) -> None:
    from gae.deploy.entrypoint import local_argv

    command = (ROOT / "app.yaml").read_text().split("\nentrypoint: ", 1)[1].split("\n", 1)[0]
    argv = local_argv(command, "127.0.0.1", 9999, bin_dir=tmp_path, targets={"x": "y"})
    assert argv[0] == str(tmp_path / "granian")
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "9999"
    assert argv[1:] == [
        {"0.0.0.0": "127.0.0.1", "$PORT": "9999"}.get(word, word) for word in command.split()[1:]
    ]
    gunicorn = local_argv("gunicorn -b :$PORT main:app", "127.0.0.1", 80, bin_dir=tmp_path)
    assert gunicorn[1:] == ["-b", "127.0.0.1:80", "main:app"]
