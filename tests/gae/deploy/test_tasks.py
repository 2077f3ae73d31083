"""`framework gae check` knows the task route: present, reached, guarded, not static, queues."""

from __future__ import annotations

import textwrap
from pathlib import Path

from gae.deploy.checks import check_project
from gae.deploy.scaffold import ProjectOptions, write_project

ROOT = Path(__file__).resolve().parents[3]


def project(tmp_path: Path, main: str, app_yaml_handlers: str | None = None) -> Path:
    write_project(tmp_path, ProjectOptions(package="shop"))
    (tmp_path / "main.py").write_text(textwrap.dedent(main))
    if app_yaml_handlers is not None:
        app_yaml = (tmp_path / "app.yaml").read_text()
        head, _, _ = app_yaml.partition("handlers:")
        (tmp_path / "app.yaml").write_text(
            head + "handlers:\n" + textwrap.dedent(app_yaml_handlers)
        )
    return tmp_path


def task_findings(root: Path) -> list[str]:
    report = check_project(root, gcloud=False)
    return [
        f"{f.severity}:{f.rule}:{f.message}" for f in report.findings if f.rule.startswith("tasks")
    ]


APP_WITH_TASKS = """
    import gae
    from shop import create_app

    app = gae.wrap(create_app(), tasks=True)
"""


def test_generated_project_with_tasks_enabled_passes(tmp_path: Path) -> None:
    assert task_findings(project(tmp_path, APP_WITH_TASKS)) == []


def test_app_that_defers_without_the_route_is_an_error(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        """
        import gae
        import gae.tasks
        from shop import create_app

        app = gae.wrap(create_app())
        """,
    )
    [finding] = task_findings(root)
    assert finding.startswith("error:tasks-route:")
    assert "has no task route" in finding


def test_a_route_that_takes_the_task_url_first_is_an_error(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        """
        import gae
        from shop import create_app

        app = create_app()
        app.add_url_rule("/_ah/queue/deferred", "old_deferred", lambda: "", methods=["POST"])
        app = gae.wrap(app, tasks=True)
        """,
    )
    [finding] = task_findings(root)
    assert "reaches 'old_deferred'" in finding


def test_static_handler_over_the_task_url_is_an_error(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        APP_WITH_TASKS,
        """\
        - url: /_ah/queue
          static_dir: shop/static
          secure: always
        - url: /.*
          script: auto
          secure: always
        """,
    )
    [finding] = task_findings(root)
    assert finding.startswith("error:tasks-handler:")
    assert "static handler" in finding


def test_queues_named_in_code_must_be_in_queue_yaml(tmp_path: Path) -> None:
    root = project(tmp_path, APP_WITH_TASKS)
    (root / "shop" / "jobs.py").write_text(
        'from gae.tasks import task\n\n\n@task(queue="mail")\ndef send() -> None:\n    pass\n'
    )
    [finding] = task_findings(root)
    assert finding.startswith("warning:tasks-queue:")
    assert "'mail' (shop/jobs.py:4)" in finding
    (root / "queue.yaml").unlink()
    [finding] = task_findings(root)
    assert "queue(s) default, mail" in finding


def test_repository_sample_app_task_route_passes() -> None:
    assert task_findings(ROOT) == []
