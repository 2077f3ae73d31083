"""App Engine adapter scenarios: one app served bare and through ``gae.wrap``.

A comparison is a function ``build(candidate: bool) -> (app, RequestSpec)`` registered with
``@comparison(name, baseline=..., candidate=...)``: ``build(False)`` returns the baseline
side, ``build(True)`` the candidate. Both sides are timed in interleaved rounds by
``bench.gae_run``, exactly as the Flask comparison does.

A comparison may need something running around it (an ndb client, the Datastore emulator):
its ``setup`` is a context manager entered before either side is built and left after both
were timed. A setup that raises :class:`Skip` skips the comparison with that reason.

A comparison that talks to Datastore declares ``expect_rpcs``: after the timing, a few more
requests per side are sent with ``google.cloud.ndb._datastore_api.make_call`` counted
(:func:`counting_rpcs`), and a side whose RPCs per request differ from those expected fails
its check. A side's app may also put a callable under ``app.extensions[AUDIT]``: it is called
after the timing and returns problems (e.g. writes that were lost).

Nothing here imports ``google.cloud`` at import time: ``gae-hello`` must measure an app that
never loaded ndb (``gae.wrap`` enters an ndb context per request once it is loaded), so the
comparisons run in registration order, and the ones that need ndb come last.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import gae
import gae.ndb
from bench.scenarios import RequestSpec
from framework import Flask, request
from gae.logging import current_trace
from gae.ndb import anonymous_client as anonymous_ndb_client
from gae.settings import Settings, reload_settings
from gae.wsgi import AppEngineMiddleware

#: A comparison's builder: ``build(candidate)`` returns that side's app and request.
Build = Callable[[bool], tuple[Any, RequestSpec]]
#: A comparison's surroundings, entered once around building and timing both sides.
Setup = Callable[[], contextlib.AbstractContextManager[None]]

#: The project id every ndb client of the benchmark uses.
PROJECT = "bench"
#: A laptop: not App Engine, no emulator variables (headers are not trusted).
LOCAL = Settings.from_environ({})
#: App Engine's standard environment: headers trusted, production safety on.
ON_GAE = Settings.from_environ({"GAE_ENV": "standard", "GOOGLE_CLOUD_PROJECT": PROJECT})
#: A real secret (32+ characters), as gae.wrap demands on App Engine.
SECRET_KEY = "bench-0f6a1c2e9b8d7f3a5c4e1b0d9a8f7e6d"

TRACE_ID = "105445aa7843bc8bf206b12000100000"
USER_IP = "203.0.113.7"
#: What App Engine's front end puts on a request from a browser (values are examples).
APP_ENGINE_HEADERS = {
    "X-Cloud-Trace-Context": f"{TRACE_ID}/1;o=1",
    "Traceparent": f"00-{TRACE_ID}-0000000000000001-01",
    "X-Appengine-User-Ip": USER_IP,
    "X-Forwarded-For": f"{USER_IP}, 169.254.1.1",
    "X-Forwarded-Proto": "https",
    "X-Appengine-Country": "GB",
    "X-Appengine-Region": "eng",
    "X-Appengine-City": "london",
    "X-Appengine-Citylatlong": "51.507351,-0.127758",
    "X-Appengine-Default-Version-Hostname": f"{PROJECT}.appspot.com",
    "X-Appengine-Request-Log-Id": "6620a1b200ff0b7c5a1e6f1a0a0001737e62656e6368000131",
}

#: Where a side's app keeps its post-timing check: ``app.extensions[AUDIT]() -> problems``.
AUDIT = "bench.audit"

HELLO = b"Hello World!"
HTML = "text/html; charset=utf-8"


class Skip(Exception):
    """The comparison cannot run on this machine; the message says why."""


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


@dataclass(frozen=True)
class Comparison:
    """A registered comparison and how to time it."""

    name: str
    #: What each side is, for the report's legend.
    baseline: str
    candidate: str
    build: Build
    setup: Setup = _nothing
    #: Slow scenarios (a Datastore round trip) use longer slices and fewer rounds.
    slice_scale: float = 1.0
    round_divisor: int = 1
    warmup_requests: int = 200
    profile_requests: int = 20_000
    #: An informal target shown in the legend, if any.
    goal: str | None = None
    #: Datastore RPCs per request expected of (baseline, candidate), by RPC name; ``None``:
    #: RPCs are not counted.
    expect_rpcs: tuple[Mapping[str, int], Mapping[str, int]] | None = None
    #: Requests per side sent with RPCs counted, after the timing.
    rpc_requests: int = 20


#: All comparisons, in the order they are run and reported.
COMPARISONS: dict[str, Comparison] = {}


def comparison(
    name: str, *, baseline: str, candidate: str, **options: Any
) -> Callable[[Build], Build]:
    """Register ``build`` under ``name`` (run and reported in registration order)."""

    def register(build: Build) -> Build:
        if name in COMPARISONS:
            raise ValueError(f"Comparison {name!r} is registered twice; give it a unique name.")
        COMPARISONS[name] = Comparison(name, baseline, candidate, build, **options)
        return build

    return register


def _hello_app(name: str) -> Flask:
    app = Flask(name)

    def index() -> str:
        return "Hello World!"

    app.add_url_rule("/", view_func=index)
    return app


def _wrapped(app: Flask, settings: Settings | None) -> Flask:
    gae.wrap(app, settings=settings)
    if not isinstance(app.wsgi_app, AppEngineMiddleware):
        raise RuntimeError(
            f"gae.wrap(app) left app.wsgi_app as {app.wsgi_app!r}, not an AppEngineMiddleware: "
            "the candidate would be the bare app."
        )
    return app


@comparison(
    "gae-hello",
    baseline="the hello app",
    candidate="gae.wrap(app) with local settings; ndb never imported",
    goal="overhead < 10 %",
)
def build_gae_hello(candidate: bool) -> tuple[Any, RequestSpec]:
    if gae.ndb.ndb_in_use():
        raise RuntimeError(
            "google.cloud.ndb is already imported, so gae.wrap enters an ndb context on "
            "every request and gae-hello would not measure an app that never uses ndb; run "
            "it before the ndb comparisons, in a fresh process."
        )
    app = _hello_app("bench_gae_hello")
    if candidate:
        _wrapped(app, LOCAL)
    return app, RequestSpec("/", expect_body=HELLO, expect_content_type=HTML)


@comparison(
    "gae-hello-on-gae",
    baseline="the hello app",
    candidate="gae.wrap(app) with App Engine settings (trusted headers, production safety)",
)
def build_gae_hello_on_gae(candidate: bool) -> tuple[Any, RequestSpec]:
    """Both sides get the same request, carrying App Engine's headers; only the wrapped app
    believes them. Before timing, a probe request proves the wrapped app used them.
    """
    app = _hello_app("bench_gae_hello_on_gae")
    app.config["SECRET_KEY"] = SECRET_KEY

    def probe() -> str:
        trace = current_trace.get()
        return f"{request.remote_addr} {request.scheme} {trace and trace.trace_id}"

    app.add_url_rule("/probe", view_func=probe)
    if candidate:
        _wrapped(app, ON_GAE)
        seen = app.test_client().get("/probe", headers=APP_ENGINE_HEADERS).text
        expected = f"{USER_IP} https {TRACE_ID}"
        if seen != expected:
            raise RuntimeError(
                f"The wrapped app did not honour App Engine's headers: the probe saw "
                f"{seen!r}, expected {expected!r} (user IP, scheme, trace id)."
            )
        if current_trace.get() is not None:
            raise RuntimeError("The request's trace was still set after its response closed.")
    return app, RequestSpec(
        "/", headers=APP_ENGINE_HEADERS, expect_body=HELLO, expect_content_type=HTML
    )


# -- ndb -------------------------------------------------------------------------------------


def _import_ndb() -> Any:
    try:
        from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]
    except ImportError as exc:
        raise Skip(f"google-cloud-ndb is not installed ({exc}).") from None
    return ndb


@functools.cache
def greeting_model() -> Any:
    """The ndb model the ndb apps define (created once: ndb keeps a global kind map)."""
    _import_ndb()  # Skip with the reason if ndb is not installed
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    class BenchGreeting(ndb.Model):  # type: ignore[misc]
        text = ndb.StringProperty()

    return BenchGreeting


@contextlib.contextmanager
def offline_ndb_client() -> Iterator[None]:
    """The process's ndb client, for a project, with no credentials and no network use.

    Entering a context never calls Datastore, so no emulator is needed.
    """
    _import_ndb()  # the adapter opens contexts only for apps that use ndb

    def factory() -> Any:
        return anonymous_ndb_client(PROJECT)

    gae.ndb.set_client_factory(factory)
    try:
        yield
    finally:
        gae.ndb.set_client_factory(None)


def ndb_docs_middleware(wsgi_app: Any, client: Any) -> Callable[..., Any]:
    """A context per request the way google-cloud-ndb's migration notes write it by hand."""

    def middleware(environ: Any, start_response: Any) -> Any:
        with client.context():
            return wsgi_app(environ, start_response)

    return middleware


def _ndb_hello_app(name: str) -> Flask:
    """The hello app of a project that uses ndb: the model is defined, the view reports
    whether it runs inside an ndb context but never calls Datastore.
    """
    greeting_model()
    ndb = _import_ndb()
    get_context = ndb.context.get_context
    app = Flask(name)

    def index() -> str:
        return "in context" if get_context(False) is not None else "no context"

    app.add_url_rule("/", view_func=index)
    return app


def _no_context_left(app: Flask) -> None:
    """Raise unless a request through the test client leaves no ndb context behind."""
    app.test_client().get("/").close()
    if gae.ndb.current_context() is not None:
        raise RuntimeError("An ndb context was still entered after the response was closed.")


def _in_context(expect: bool) -> RequestSpec:
    body = b"in context" if expect else b"no context"
    return RequestSpec("/", expect_body=body, expect_content_type=HTML)


@comparison(
    "gae-ndb-context-cost",
    baseline="an app that imported ndb, no ndb context",
    candidate="the same app + a hand-written `with client.context()` middleware",
    setup=offline_ndb_client,
)
def build_ndb_context_cost(candidate: bool) -> tuple[Any, RequestSpec]:
    """What entering and leaving an ndb context costs per request, adapter aside."""
    app = _ndb_hello_app("bench_ndb_context_cost")
    if candidate:
        app.wsgi_app = ndb_docs_middleware(app.wsgi_app, gae.ndb.get_client())  # type: ignore[method-assign]
        _no_context_left(app)
    return app, _in_context(candidate)


@comparison(
    "gae-ndb-context",
    baseline="the same app + a hand-written `with client.context()` middleware",
    candidate="gae.wrap(app) with local settings (it enters the context)",
    setup=offline_ndb_client,
)
def build_ndb_context(candidate: bool) -> tuple[Any, RequestSpec]:
    """The view never calls Datastore: the adapter's own cost around the same context."""
    app = _ndb_hello_app("bench_ndb_context")
    if candidate:
        _wrapped(app, LOCAL)
    else:
        app.wsgi_app = ndb_docs_middleware(app.wsgi_app, gae.ndb.get_client())  # type: ignore[method-assign]
    _no_context_left(app)
    return app, _in_context(True)


#: The entity gae-ndb-get reads.
GREETING_ID = 1
GREETING_TEXT = "Hello from Datastore"


@contextlib.contextmanager
def counting_rpcs() -> Iterator[Counter[str]]:
    """Count ndb's Datastore RPCs by name (``lookup``, ``commit``, ...) inside the block.

    Wraps ``google.cloud.ndb._datastore_api.make_call`` (the one function every RPC goes
    through, looked up as a module global at each call) and calls the real one.
    """
    _import_ndb()
    from google.cloud.ndb import _datastore_api  # type: ignore[import-untyped, unused-ignore]

    real = _datastore_api.make_call
    counts: Counter[str] = Counter()

    def make_call(rpc_name: str, *args: Any, **kwargs: Any) -> Any:
        counts[rpc_name] += 1
        return real(rpc_name, *args, **kwargs)

    _datastore_api.make_call = make_call
    try:
        yield counts
    finally:
        _datastore_api.make_call = real


@dataclass
class _SharedEmulator:
    """The emulator kept across comparisons inside :func:`one_emulator`, if any."""

    active: bool = False
    emulator: Any = None
    #: Why it could not start (the later comparisons skip without trying again).
    failure: str | None = None


_SHARED = _SharedEmulator()


@contextlib.contextmanager
def one_emulator() -> Iterator[None]:
    """Inside the block, every Datastore comparison uses one emulator (started on first
    use, wiped with ``POST /reset`` before each comparison), stopped at the end.

    Outside it (``--profile``), each comparison starts and stops its own.
    """
    _SHARED.active = True
    try:
        yield
    finally:
        emulator, _SHARED.emulator = _SHARED.emulator, None
        _SHARED.active, _SHARED.failure = False, None
        if emulator is not None:
            emulator.stop()


def _running_emulator() -> Any:
    """An empty, running Datastore emulator: the shared one reset, or a new one."""
    from gae.emulators import DatastoreEmulator, EmulatorError

    if _SHARED.failure is not None:
        raise Skip(_SHARED.failure)
    if _SHARED.emulator is not None:
        try:
            _SHARED.emulator.reset()
            return _SHARED.emulator
        except (EmulatorError, OSError):  # it died: start another one
            _SHARED.emulator.stop()
            _SHARED.emulator = None
    emulator = DatastoreEmulator(PROJECT)
    try:
        emulator.start(timeout=30.0)
    except (EmulatorError, OSError) as exc:
        emulator.stop()
        reason = f"the Datastore emulator could not start: {exc}"
        if _SHARED.active:
            _SHARED.failure = reason
        raise Skip(reason) from None
    if _SHARED.active:
        _SHARED.emulator = emulator
    return emulator


@contextlib.contextmanager
def datastore_emulator() -> Iterator[None]:
    """An empty Datastore emulator, with the process's settings and ndb client pointed at
    it and one entity stored; everything is put back on exit.
    """
    model = greeting_model()
    emulator = _running_emulator()
    saved = {key: os.environ.get(key) for key in emulator.env}
    try:
        os.environ.update(emulator.env)
        reload_settings()
        gae.ndb.set_client_factory(None)
        with gae.ndb.get_client().context():
            model(id=GREETING_ID, text=GREETING_TEXT).put()
        yield
    finally:
        if emulator is not _SHARED.emulator:
            emulator.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reload_settings()
        gae.ndb.set_client_factory(None)


@comparison(
    "gae-ndb-get",
    baseline="a view doing `with client.context(): Model.get_by_id(1)`",
    candidate="gae.wrap(app), the view doing `Model.get_by_id(1)`",
    setup=datastore_emulator,
    slice_scale=8.0,
    round_divisor=4,
    warmup_requests=50,
    profile_requests=500,
    expect_rpcs=({"lookup": 1}, {"lookup": 1}),
)
def build_ndb_get(candidate: bool) -> tuple[Any, RequestSpec]:
    """One ``get_by_id`` against the Datastore emulator per request (a fresh context, so
    ndb's context cache never answers it).
    """
    model = greeting_model()
    app = Flask("bench_ndb_get")
    if candidate:

        def greet() -> str:
            return str(model.get_by_id(GREETING_ID).text)

        app.add_url_rule("/", view_func=greet)
        _wrapped(app, None)  # the process's settings: local, pointed at the emulator
    else:
        client = gae.ndb.get_client()

        def greet_in_context() -> str:
            with client.context():
                return str(model.get_by_id(GREETING_ID).text)

        app.add_url_rule("/", view_func=greet_in_context)
    _no_context_left(app)
    return app, RequestSpec("/", expect_body=GREETING_TEXT.encode(), expect_content_type=HTML)
