"""Run one page's code blocks in order, in this (fresh) interpreter: ``python run_page.py JSON``.

The JSON file holds the page's path and its steps (see :mod:`tests.docs.blocks`). The
process starts in an empty working folder: ``file`` blocks are written there, ``shell``
blocks run there (a ``cd`` in one carries over to the next steps), and it is on
``sys.path``, so a package written by the page can be imported by its later blocks.

Tracebacks point at the page: the code is compiled with the Markdown file's name and line
numbers. The first failing step ends the run with exit status 1.
"""

from __future__ import annotations

import ast
import doctest
import json
import os
import subprocess
import sys
import tempfile
import tomllib
import traceback
import types
import typing as t
from pathlib import Path

MODULE = "__docs__"


class StepFailed(Exception):
    pass


class Page:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.module = self._new_module()

    @staticmethod
    def _new_module() -> types.ModuleType:
        # A module without a file: Flask(__name__) takes the working folder as root path,
        # where the page writes its templates.
        module = types.ModuleType(MODULE)
        sys.modules[MODULE] = module
        return module

    def fresh(self) -> None:
        self.module = self._new_module()

    def python(self, code: str, line: int) -> None:
        tree = ast.parse(code, str(self.path))
        ast.increment_lineno(tree, line - 1)
        exec(compile(tree, str(self.path), "exec"), self.module.__dict__)

    def pycon(self, code: str, line: int, where: str) -> None:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(code, self.module.__dict__, where, str(self.path), line - 1)
        report: list[str] = []
        runner = doctest.DocTestRunner(
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.FAIL_FAST,
            verbose=False,
        )
        result = runner.run(test, out=report.append, clear_globs=False)
        # DocTest works on a copy of the namespace: keep what the session defined.
        self.module.__dict__.update(test.globs)
        if result.failed:
            raise StepFailed("".join(report))

    def shell(self, code: str) -> None:
        with tempfile.NamedTemporaryFile("r", suffix=".pwd") as pwd:
            script = f"set -euo pipefail\n{code}\npwd > {pwd.name}\n"
            env = dict(os.environ)
            env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
            completed = subprocess.run(
                ["bash", "-c", script],
                env=env,
                capture_output=True,
                text=True,
                timeout=240,
                check=False,
            )
            sys.stdout.write(completed.stdout)
            sys.stderr.write(completed.stderr)
            if completed.returncode != 0:
                raise StepFailed(f"the shell block exited with status {completed.returncode}")
            self.chdir(Path(pwd.read().strip()))

    def chdir(self, folder: Path) -> None:
        os.chdir(folder)
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))

    def pytest(self, path: str) -> None:
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        sys.stdout.write(completed.stdout[-6000:])
        sys.stderr.write(completed.stderr[-3000:])
        if completed.returncode != 0:
            raise StepFailed(f"pytest {path} exited with status {completed.returncode}")


def check_data(language: str, code: str) -> None:
    if language == "json":
        json.loads(code)
    elif language == "toml":
        tomllib.loads(code)
    elif language == "yaml":
        import yaml

        list(yaml.safe_load_all(code))


def run_step(page: Page, step: dict[str, t.Any]) -> None:
    action, language, code, line = step["action"], step["language"], step["code"], step["line"]
    if action == "fresh":
        page.fresh()
    for hidden in step["setup"]:
        page.python(hidden, line)
    if action in {"file", "pytest"}:
        target = Path(step["argument"])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code, encoding="utf-8")
        if language in {"json", "toml", "yaml"}:
            check_data(language, code)
        if action == "pytest":
            page.pytest(step["argument"])
        return
    if action == "shell":
        page.shell(code)
    elif language == "python":
        page.python(code, line)
    elif language == "pycon":
        page.pycon(code, line, step["where"])
    else:
        check_data(language, code)


def main(spec_file: str) -> int:
    spec = json.loads(Path(spec_file).read_text(encoding="utf-8"))
    page = Page(Path(spec["path"]))
    page.chdir(Path.cwd())
    for step in spec["steps"]:
        try:
            run_step(page, step)
        except StepFailed as error:
            print(f"\nFAILED at {step['where']} ({step['language']} block):\n{error}")
            return 1
        except BaseException:
            traceback.print_exc()
            print(f"\nFAILED at {step['where']} ({step['language']} block): see the traceback.")
            return 1
    print(f"OK: {len(spec['steps'])} block(s) of {spec['page']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
