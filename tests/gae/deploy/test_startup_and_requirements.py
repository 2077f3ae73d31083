"""`framework gae check` on what App Engine installs and starts: requirements.txt must
provide this distribution, the app is imported as App Engine would (GAE_ENV=standard, no
network), warmup advice only for gae.wrap apps, placeholders, and the runtime table."""

from __future__ import annotations

from pathlib import Path

import pytest

from gae.deploy.checks import CheckReport, check_project
from gae.deploy.runtimes import FRAMEWORK_RUNTIMES, RUNTIMES_SOURCE, runtime
from gae.deploy.scaffold import ProjectOptions, write_project


def _summary(report: CheckReport) -> str:
    return "\n".join(str(f) for f in report.findings) or "no findings"


def _project(tmp_path: Path, **options: object) -> Path:
    write_project(tmp_path, ProjectOptions(package="shop", **options))  # type: ignore[arg-type]
    return tmp_path


def test_requirements_with_only_flask_fail_naming_the_distribution(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "requirements.txt").write_text("Flask==3.1.3\n")
    report = check_project(project, gcloud=False)
    [finding] = [f for f in report.findings if f.rule == "requirements-framework"]
    assert finding.severity == "error"
    assert "does not install gae-framework" in finding.message
    assert "gae-framework[gae]==" in finding.fix
    assert not report.ok


def test_distribution_without_the_gae_extra_fails(tmp_path: Path) -> None:
    project = _project(tmp_path)
    path = project / "requirements.txt"
    path.write_text(path.read_text().replace("gae-framework[gae]==", "gae-framework=="))
    report = check_project(project, gcloud=False)
    [finding] = [f for f in report.findings if f.rule == "requirements-framework"]
    assert "without its [gae] extra" in finding.message
    assert "gae-framework[gae]==" in finding.fix


def test_vendored_project_must_list_the_dependencies(tmp_path: Path) -> None:
    project = _project(tmp_path, vendor=True)
    assert check_project(project, gcloud=False).findings == []
    path = project / "requirements.txt"
    path.write_text(
        "".join(line for line in path.read_text().splitlines(True) if "ndb" not in line)
    )
    report = check_project(project, gcloud=False)
    [finding] = [f for f in report.findings if f.rule == "requirements-framework"]
    assert "google-cloud-ndb" in finding.message
    assert "google-cloud-ndb==" in finding.fix


def test_gae_wrap_without_a_secret_is_a_startup_error(tmp_path: Path) -> None:
    project = _project(tmp_path)
    factory = project / "shop" / "__init__.py"
    source = factory.read_text()
    line = '    app.config["SECRET_KEY"] = load_secret_key()\n'
    assert line in source
    factory.write_text(source.replace(line, ""))
    report = check_project(project, gcloud=False)
    [finding] = [f for f in report.findings if f.rule == "startup"]
    assert finding.severity == "error", str(finding)
    assert "App Engine would refuse to start 'main:app': ConfigurationError" in finding.message
    assert "SECRET_KEY" in finding.message
    assert "load_secret_key()" in finding.fix
    assert "Traceback" not in str(finding)


def test_startup_is_not_probed_with_no_import_app(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "main.py").write_text(
        (project / "main.py").read_text() + "\nraise SystemExit('boom')\n"
    )
    probed = [f for f in check_project(project, gcloud=False).findings if f.rule == "startup"]
    assert [f.severity for f in probed] == ["warning"]
    assert "SystemExit: boom" in probed[0].message
    report = check_project(project, gcloud=False, import_app=False)
    assert not [f for f in report.findings if f.rule == "startup"]


def test_startup_sees_app_yaml_env_and_no_developer_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A SECRET_KEY in the developer's shell does not reach App Engine: not in the probe.
    monkeypatch.setenv("SECRET_KEY", "a-real-looking-local-secret-0123456789")
    project = _project(tmp_path)
    factory = project / "shop" / "__init__.py"
    factory.write_text(
        factory.read_text().replace(
            "load_secret_key()", '__import__("os").environ.get("SECRET_KEY")'
        )
    )
    report = check_project(project, gcloud=False)
    assert [f.severity for f in report.findings if f.rule == "startup"] == ["error"]


def test_placeholder_passwords_warn_and_placeholder_secret_key_fails(tmp_path: Path) -> None:
    project = _project(tmp_path)
    app_yaml = project / "app.yaml"
    original = app_yaml.read_text()
    app_yaml.write_text(original + "  DB_PASSWORD: changeme\n  API_TOKEN: <token>\n")
    report = check_project(project, gcloud=False)
    secrets = [f for f in report.findings if f.rule == "env-secret"]
    assert [f.severity for f in secrets] == ["warning", "warning"], _summary(report)
    assert "placeholder" in secrets[0].message and "Secret Manager" in secrets[0].fix
    assert report.ok

    app_yaml.write_text(original + "  SECRET_KEY: change-me\n")
    report = check_project(project, gcloud=False)
    [finding] = [f for f in report.findings if f.rule == "env-secret"]
    assert finding.severity == "error"
    assert "gae.wrap refuses" in finding.message
    # ... and the app, started as App Engine would, refuses it too.
    assert [f.severity for f in report.findings if f.rule == "startup"] == ["error"]


def test_python314_is_accepted(tmp_path: Path) -> None:
    assert "python314" in FRAMEWORK_RUNTIMES
    project = _project(tmp_path, runtime="python314")
    assert "runtime: python314" in (project / "app.yaml").read_text()
    report = check_project(project, gcloud=False)
    assert report.findings == [], _summary(report)


def test_runtime_table_says_where_it_comes_from() -> None:
    assert RUNTIMES_SOURCE.endswith("support-schedule#python")
    assert runtime("python313") is not None
    assert runtime("python39") is not None and runtime("python39").stage == "ended"  # type: ignore[union-attr]
    assert FRAMEWORK_RUNTIMES[0] == "python311"


def test_googles_hello_world_gets_no_warmup_advice(tmp_path: Path) -> None:
    # The shape of Google's Flask sample: no gae.wrap, so nothing answers /_ah/warmup.
    (tmp_path / "app.yaml").write_text("runtime: python313\n")
    (tmp_path / "main.py").write_text(
        "from flask import Flask\n\napp = Flask(__name__)\n\n\n"
        "@app.route('/')\ndef hello():\n    return 'Hello World!'\n"
    )
    (tmp_path / "requirements.txt").write_text("Flask==3.1.3\n")
    report = check_project(tmp_path, gcloud=False)
    rules = {f.rule for f in report.findings}
    assert "warmup" not in rules, _summary(report)
    assert "requirements-framework" not in rules
    assert "startup" not in rules
    assert report.ok, _summary(report)


def test_gae_wrap_app_without_warmup_gets_the_advice(tmp_path: Path) -> None:
    project = _project(tmp_path)
    app_yaml = project / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace("inbound_services:\n- warmup\n", ""))
    [finding] = [f for f in check_project(project, gcloud=False).findings if f.rule == "warmup"]
    assert finding.severity == "warning"
