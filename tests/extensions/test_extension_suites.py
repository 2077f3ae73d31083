"""The real test suites of eight Flask extensions pass on framework exactly as on Flask.

See :mod:`tests.extensions.suites`. The table of passed/total per extension, on Flask
and on framework, is printed at the end of the pytest run.
"""

from __future__ import annotations

import pytest

from . import suites

RESULTS: dict[str, tuple[suites.Result, suites.Result]] = {}


def _tail(result: suites.Result, lines: int = 40) -> str:
    return "\n".join(result.output.splitlines()[-lines:])


@pytest.mark.slow
@pytest.mark.parametrize("suite", suites.SUITES, ids=lambda s: s.name)
def test_extension_suite_passes_on_framework_as_on_flask(suite: suites.Suite) -> None:
    theirs = suites.baseline(suite)
    # The baseline itself: everything that is not deselected passes (or skips) on Flask.
    assert theirs.outcomes, f"No test ran on Flask:\n{_tail(theirs)}"
    failing = sorted(k for k, v in theirs.outcomes.items() if v in {"failed", "error"})
    assert failing == [], f"Fails on Flask 3.1.3 too (deselect with a reason):\n{_tail(theirs)}"
    assert theirs.probe["real_flask_modules"], "the baseline did not run on the real Flask"

    ours = suites.run(suite, "framework")
    RESULTS[suite.name] = (theirs, ours)
    # It really ran on framework: `flask` was framework and no module of Flask was loaded.
    assert ours.probe == {
        "flask_is_framework": True,
        "real_flask_modules": [],
        "flask_file": ours.probe.get("flask_file"),
    }, _tail(ours)
    assert str(ours.probe["flask_file"]).endswith("framework/__init__.py")
    differing = {
        test: (theirs.outcomes.get(test), outcome)
        for test, outcome in ours.outcomes.items() | theirs.outcomes.items()
        if theirs.outcomes.get(test) != ours.outcomes.get(test)
    }
    assert differing == {}, f"(on Flask, on framework):\n{_tail(ours)}"
    assert ours.returncode == 0, _tail(ours)
