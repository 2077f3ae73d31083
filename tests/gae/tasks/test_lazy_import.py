"""Cold starts: nothing of google.cloud is imported until a task is enqueued or run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import json, sys
    import gae
    from framework import Flask

    plain = Flask("plain")
    plain.config["SECRET_KEY"] = "x" * 32
    plain.get("/")(lambda: "ok")
    gae.wrap(plain)
    assert plain.test_client().get("/").status_code == 200
    after_plain = sorted(m for m in sys.modules if m.startswith("google"))

    with_tasks = Flask("with_tasks")
    with_tasks.config["SECRET_KEY"] = "x" * 32
    with_tasks.get("/")(lambda: "ok")
    gae.wrap(with_tasks, tasks=True)
    assert with_tasks.test_client().get("/").status_code == 200
    after_tasks = sorted(m for m in sys.modules if m.startswith("google"))
    print(json.dumps([after_plain, after_tasks]))
    """
)


def test_wrap_with_or_without_tasks_imports_no_google_modules() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    after_plain, after_tasks = json.loads(done.stdout.strip().splitlines()[-1])
    assert after_plain == []
    assert after_tasks == []
