"""pytest fixtures for App Engine apps: real Datastore and Cloud Storage emulators.

Installed with this distribution and loaded automatically (a ``pytest11`` entry point).
Fixtures:

``datastore_emulator``, ``gcs_emulator``, ``fake_gcs_emulator`` (session)
    Running emulators; their environment variables are exported for the session.
``ndb_client`` (session), ``ndb_context`` (per test)
    An ``ndb.Client`` for the emulator, and a context on a wiped Datastore; the test fails
    if it leaves another ndb context open.
``gcs_client`` (session), ``gcs_bucket`` (per test)
    A storage client and an emptied bucket.
``tasks_emulator`` (session), ``cloud_tasks`` (per test)
    The Cloud Tasks emulator, delivering to an HTTP server in the test process that serves
    the test's ``app``; ``cloud_tasks`` empties and pauses its queues and lists and runs
    the queued tasks on demand (``cloud_tasks.run_all()``, see :mod:`gae.emulators.tasks_testing`).
``app``, ``client``
    Your app from the factory named by the ``gae_app_factory`` ini option (for example
    ``myapp:create_app``), with ``TESTING`` on and clean emulators. Define your own ``app``
    fixture to build it differently.

Settings (ini): ``gae_project`` (default ``test-project``), ``gae_bucket`` (default
``<gae_project>.appspot.com``, exported as ``GCS_BUCKET``), ``gae_datastore_mode`` (``datastore`` or
``firestore``), ``gae_app_factory``; ``install_as_flask = true`` calls
:func:`framework.install_as_flask` before any ``conftest.py`` is imported, so a test suite
written for Flask (and its extensions) runs on ``framework`` unchanged. Tests that use the
emulators get the ``emulator`` marker. When an emulator cannot start, those tests are
skipped with the reason, and the end of the run counts them and says what to install;
in CI (the ``CI`` variable is set) that is a failure instead.
"""

from __future__ import annotations

import os
import typing as t

import pytest

from .emulators import DatastoreEmulator, EmulatorError, StorageEmulator
from .emulators.base import _Emulator

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from .emulators.tasks import TasksEmulator
    from .emulators.tasks_testing import TaskQueues, TaskTarget

E = t.TypeVar("E", bound=_Emulator)

_EMULATOR_FIXTURES = frozenset(
    {
        "datastore_emulator",
        "gcs_emulator",
        "fake_gcs_emulator",
        "ndb_client",
        "ndb_context",
        "gcs_client",
        "gcs_bucket",
        "app",
        "client",
        "tasks_emulator",
        "cloud_tasks",
    }
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("gae_project", "Project id used with the emulators", default="test-project")
    parser.addini(
        "gae_bucket",
        "Bucket created in the storage emulator (default: '<gae_project>.appspot.com', the "
        "app's default GCS_BUCKET)",
        default="",
    )
    parser.addini(
        "gae_datastore_mode",
        "Which Datastore emulator: 'datastore' or 'firestore' (Datastore mode)",
        default="datastore",
    )
    parser.addini("gae_app_factory", "'module:factory' building the app for 'app'", default="")
    parser.addini(
        "install_as_flask",
        "Call framework.install_as_flask() before conftest files are imported, so code and "
        "extensions that import flask run on framework",
        type="bool",
        default=False,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # Before any conftest.py (and so before any extension) imports flask.
    if early_config.getini("install_as_flask"):
        from framework.alias import FlaskAlreadyImportedError, install_as_flask

        try:
            install_as_flask()
        except FlaskAlreadyImportedError as error:
            raise pytest.UsageError(f"install_as_flask = true, but: {error}") from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "emulator: uses the Datastore or Cloud Storage emulator (gae plugin)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _EMULATOR_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.emulator)


_SKIP_PREFIX = "Emulator unavailable: "


def _unavailable(error: EmulatorError) -> t.NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"Emulator unavailable in CI: {error}", pytrace=False)
    pytest.skip(f"{_SKIP_PREFIX}{error}")


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    """Say, after the run, how many tests were skipped for a missing emulator and what
    to install: a row of ``s`` is easy to miss, and then the suite never ran for real."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = _skip_reason(report)
        at = reason.find(_SKIP_PREFIX)
        if at >= 0:
            cause = reason[at + len(_SKIP_PREFIX) :]
            reasons[cause] = reasons.get(cause, 0) + 1
    if not reasons:
        return
    total = sum(reasons.values())
    terminalreporter.write_sep("=", "gae: emulators missing", yellow=True)
    terminalreporter.write_line(
        f"{total} test{'s' if total != 1 else ''} using the emulators "
        f"{'were' if total != 1 else 'was'} skipped because an emulator could not start; "
        "install what is named below and run again (with CI set they fail instead):"
    )
    for cause, count in sorted(reasons.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"  {count} x {cause}")


class _Exported:
    """Environment variables set for the session and restored after it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.previous = {key: os.environ.get(key) for key in env}
        os.environ.update(env)

    def restore(self) -> None:
        for key, value in self.previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def datastore_emulator(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatastoreEmulator]:
    """The Datastore emulator (in memory) for the whole test session."""
    mode = t.cast(t.Any, pytestconfig.getini("gae_datastore_mode"))
    emulator = DatastoreEmulator(
        pytestconfig.getini("gae_project"),
        mode=mode,
        log_dir=tmp_path_factory.mktemp("datastore-emulator"),
    )
    yield from _running(emulator, emulator.env)


def _running(emulator: E, env: dict[str, str]) -> Iterator[E]:
    """Start ``emulator``, export ``env`` for the session, and undo both afterwards."""
    try:
        emulator.start()
    except EmulatorError as error:
        _unavailable(error)
    exported = _Exported(env)
    try:
        yield emulator
    finally:
        exported.restore()
        emulator.stop()


def _storage(
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
    backend: t.Literal["gcp-storage-emulator", "fake-gcs-server"],
) -> Iterator[StorageEmulator]:
    emulator = StorageEmulator(
        pytestconfig.getini("gae_project"),
        bucket=pytestconfig.getini("gae_bucket"),
        backend=backend,
        log_dir=tmp_path_factory.mktemp("storage-emulator"),
    )
    env = {**emulator.env, "GOOGLE_CLOUD_PROJECT": emulator.project}
    if emulator.bucket:
        env["GCS_BUCKET"] = emulator.bucket  # the app's uploads go to the bucket made here
    yield from _running(emulator, env)


@pytest.fixture(scope="session")
def gcs_emulator(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StorageEmulator]:
    """gcp-storage-emulator (in memory) for the whole test session."""
    yield from _storage(pytestconfig, tmp_path_factory, "gcp-storage-emulator")


@pytest.fixture(scope="session")
def fake_gcs_emulator(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StorageEmulator]:
    """fake-gcs-server, which enforces generation preconditions, for the session.

    It exports ``STORAGE_EMULATOR_HOST`` too: do not combine it with ``gcs_emulator`` in
    one test; build clients from ``fake_gcs_emulator.url`` where both are used.
    """
    yield from _storage(pytestconfig, tmp_path_factory, "fake-gcs-server")


@pytest.fixture(scope="session")
def ndb_client(datastore_emulator: DatastoreEmulator) -> t.Any:
    """An ``ndb.Client`` talking to the emulator (anonymous credentials)."""
    from .ndb import anonymous_client

    return anonymous_client(datastore_emulator.project)


@pytest.fixture
def ndb_context(datastore_emulator: DatastoreEmulator, ndb_client: t.Any) -> Iterator[t.Any]:
    """An ndb context on an empty Datastore; fails the test if a context leaks."""
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    datastore_emulator.reset()
    with ndb_client.context() as context:
        yield context
    leaked = ndb.context.get_context(False)
    assert leaked is None, f"the test left an ndb context open: {leaked!r}"


@pytest.fixture
def offline_ndb() -> Iterator[None]:
    """ndb without Datastore: ``gae.wrap``'s per-request contexts use an offline client.

    For tests of a wrapped app that imports ndb (or shares a process with tests that do)
    but makes no Datastore call and starts no emulator: the client has anonymous
    credentials and never connects unless a view uses Datastore, where the adapter would
    otherwise look for real credentials.
    """
    from .ndb import anonymous_client, set_client_factory

    set_client_factory(lambda: anonymous_client("offline"))
    yield
    set_client_factory(None)


@pytest.fixture(scope="session")
def gcs_client(gcs_emulator: StorageEmulator) -> t.Any:
    """A ``google.cloud.storage.Client`` for the storage emulator."""
    # Imported here: loading the plugin (every pytest run) stays cheap.
    from .storage.client import anonymous_client

    return anonymous_client(gcs_emulator.project, gcs_emulator.url)


@pytest.fixture
def gcs_bucket(gcs_emulator: StorageEmulator, gcs_client: t.Any) -> t.Any:
    """The configured bucket, emptied before the test."""
    gcs_emulator.reset()
    return gcs_client.bucket(gcs_emulator.bucket)


@pytest.fixture
def app(
    pytestconfig: pytest.Config,
    datastore_emulator: DatastoreEmulator,
    gcs_emulator: StorageEmulator,
) -> t.Any:
    """The app from ``gae_app_factory``, in testing mode, on wiped emulators."""
    spec = pytestconfig.getini("gae_app_factory")
    if not spec:
        pytest.fail(
            "The 'app' fixture needs the factory of your app: add "
            "'gae_app_factory = \"yourpackage:create_app\"' to your pytest configuration, "
            "or define your own 'app' fixture.",
            pytrace=False,
        )
    from werkzeug.utils import import_string

    factory = import_string(spec.replace(":", "."))
    datastore_emulator.reset()
    gcs_emulator.reset()
    application = factory()
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def client(app: t.Any) -> t.Any:
    """``app.test_client()``."""
    return app.test_client()


@pytest.fixture(scope="session")
def task_target() -> Iterator[TaskTarget]:
    """The loopback HTTP server the tasks emulator delivers to (serves the test's app)."""
    from .emulators.tasks_testing import TaskTarget

    target = TaskTarget()
    target.start()
    yield target
    target.stop()


@pytest.fixture(scope="session")
def tasks_emulator(
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
    task_target: TaskTarget,
) -> Iterator[TasksEmulator]:
    """The Cloud Tasks emulator (queues paused) for the whole session."""
    from .emulators.tasks import TasksEmulator

    emulator = TasksEmulator(
        pytestconfig.getini("gae_project"),
        target=task_target.address,
        start_paused=True,
        log_dir=tmp_path_factory.mktemp("tasks-emulator"),
    )
    yield from _running(emulator, emulator.env)


@pytest.fixture
def cloud_tasks(
    request: pytest.FixtureRequest,
    tasks_emulator: TasksEmulator,
    task_target: TaskTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TaskQueues]:
    """The emulator's queues, emptied and paused, delivering to this test's ``app``."""
    from .emulators.tasks_testing import TaskQueues
    from .settings import reload_settings
    from .tasks import set_client_factory

    for key, value in tasks_emulator.env.items():
        monkeypatch.setenv(key, value)
    reload_settings()
    set_client_factory(None)
    queues = TaskQueues(tasks_emulator)
    queues.reset()
    task_target.app = request.getfixturevalue("app")
    try:
        yield queues
    finally:
        queues.reset()  # nothing left running into the next test
        task_target.app = None
        set_client_factory(None)
