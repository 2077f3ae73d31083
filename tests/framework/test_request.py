"""The request object: JSON parsing, body size limits and routing information."""

from __future__ import annotations

import io
import types
import typing as t

from ._parity import compare, mod_fixture

mod = mod_fixture()


def _json_app(m: types.ModuleType, **config: t.Any) -> t.Any:
    app = m.Flask(__name__)
    app.config.update(config)

    @app.route("/json", methods=["POST"])
    def json_view() -> t.Any:
        return {"got": m.request.get_json()}

    @app.route("/json-prop", methods=["POST"])
    def json_prop() -> t.Any:
        return {"got": m.request.json}

    @app.route("/silent", methods=["POST"])
    def silent() -> t.Any:
        return {"got": m.request.get_json(silent=True), "is_json": m.request.is_json}

    @app.route("/force", methods=["POST"])
    def force() -> t.Any:
        return {"got": m.request.get_json(force=True)}

    return app


def _json_calls() -> list[t.Callable[[t.Any], t.Any]]:
    bad = "{not json"
    return [
        lambda c: c.post("/json", json={"a": [1, 2]}),
        lambda c: c.post("/json", data=bad, content_type="application/json"),
        lambda c: c.post("/json-prop", data=bad, content_type="application/json"),
        lambda c: c.post("/json", data="{}", content_type="text/plain"),
        lambda c: c.post("/json-prop", data="{}"),
        lambda c: c.post("/silent", data=bad, content_type="application/json"),
        lambda c: c.post("/silent", data="{}", content_type="text/plain"),
        lambda c: c.post("/force", data='{"forced": true}', content_type="text/plain"),
        lambda c: c.post("/json", data='"x"', content_type="application/vnd.api+json"),
        lambda c: c.post("/json", data="", content_type="application/json"),
    ]


def test_get_json() -> None:
    (
        ok,
        bad,
        bad_prop,
        wrong_type,
        no_type,
        silent_bad,
        silent_type,
        forced,
        vendor,
        empty,
    ) = compare(_json_app, *_json_calls())
    assert ok.text == '{"got":{"a":[1,2]}}\n'
    assert bad.code == 400
    assert bad_prop.code == 400
    # Outside debug mode the decoder's message is not shown.
    assert b"Expecting" not in bad.body
    assert wrong_type.code == 415
    assert no_type.code == 415
    assert silent_bad.text == '{"got":null,"is_json":true}\n'
    assert silent_type.text == '{"got":null,"is_json":false}\n'
    assert forced.text == '{"got":{"forced":true}}\n'
    assert vendor.text == '{"got":"x"}\n'
    assert empty.code == 400


def test_get_json_debug_shows_decoder_message() -> None:
    bad, _bad_prop = compare(lambda m: _json_app(m, DEBUG=True), *_json_calls()[1:3])
    assert bad.code == 400
    assert b"Failed to decode JSON object" in bad.body


def test_get_json_is_cached(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    with app.test_request_context(method="POST", json={"k": 1}):
        first = mod.request.get_json()
        assert first == {"k": 1}
        assert mod.request.get_json() is first
        assert mod.request.json is first


def _limits_app(m: types.ModuleType, **config: t.Any) -> t.Any:
    app = m.Flask(__name__)
    app.config.update(config)

    @app.before_request
    def per_request_limits() -> None:
        if m.request.path == "/small":
            m.request.max_content_length = 10
        if m.request.path == "/big":
            m.request.max_content_length = 1000
            m.request.max_form_memory_size = 1000
            m.request.max_form_parts = 100

    def echo_form() -> str:
        return ",".join(f"{k}={len(v)}" for k, v in sorted(m.request.form.items()))

    for path in ("/form", "/small", "/big"):
        app.add_url_rule(path, path, echo_form, methods=["POST"])

    @app.route("/data", methods=["POST"])
    def data() -> str:
        return str(len(m.request.get_data()))

    @app.route("/ignore", methods=["POST"])
    def ignore() -> str:
        return "body never read"

    @app.route("/upload", methods=["POST"])
    def upload() -> str:
        return str(len(m.request.files["f"].read()))

    return app


def test_max_content_length() -> None:
    results = compare(
        lambda m: _limits_app(m, MAX_CONTENT_LENGTH=50),
        lambda c: c.post("/data", data="x" * 50),
        lambda c: c.post("/data", data="x" * 51),
        lambda c: c.post("/form", data={"a": "x" * 60}),
        lambda c: c.post("/upload", data={"f": (io.BytesIO(b"y" * 100), "f.txt")}),
        lambda c: c.post("/ignore", data="x" * 100),
        lambda c: c.post("/small", data={"a": "x" * 20}),
        lambda c: c.post("/big", data={"a": "x" * 200}),
    )
    codes = [r.code for r in results]
    assert codes == [200, 413, 413, 413, 200, 413, 200]
    assert results[0].text == "50"
    assert b"Request Entity Too Large" in results[1].body
    assert results[6].text == "a=200"


def test_per_request_limit_without_config() -> None:
    small, form = compare(
        _limits_app,
        lambda c: c.post("/small", data={"a": "x" * 20}),
        lambda c: c.post("/form", data={"a": "x" * 20}),
    )
    assert small.code == 413
    assert (form.code, form.text) == (200, "a=20")


def test_max_form_memory_size() -> None:
    results = compare(
        lambda m: _limits_app(m, MAX_FORM_MEMORY_SIZE=100),
        lambda c: c.post("/form", data={"a": "x" * 100}),
        lambda c: c.post("/form", data={"a": "x" * 150}),
        lambda c: c.post("/form", data={"a": "x" * 150}, content_type="multipart/form-data"),
        lambda c: c.post("/big", data={"a": "x" * 150}, content_type="multipart/form-data"),
        lambda c: c.post("/upload", data={"f": (io.BytesIO(b"y" * 500), "f.txt")}),
        lambda c: c.post("/big", data={"a": "x" * 150}),
    )
    # werkzeug applies the limit to multipart bodies; urlencoded ones are left to
    # MAX_CONTENT_LENGTH.
    assert [r.code for r in results] == [200, 200, 413, 200, 413, 200]
    assert results[1].text == "a=150"
    assert results[3].text == "a=150"


def test_max_form_parts() -> None:
    fields = {f"f{i}": "v" for i in range(5)}
    results = compare(
        lambda m: _limits_app(m, MAX_FORM_PARTS=3),
        lambda c: c.post(
            "/form", data=dict(list(fields.items())[:3]), content_type="multipart/form-data"
        ),
        lambda c: c.post("/form", data=fields, content_type="multipart/form-data"),
        lambda c: c.post("/big", data=fields, content_type="multipart/form-data"),
    )
    assert [r.code for r in results] == [200, 413, 200]
    assert results[0].text == "f0=1,f1=1,f2=1"


def test_default_limits_come_from_config(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=5, MAX_FORM_MEMORY_SIZE=6, MAX_FORM_PARTS=7)
    with app.test_request_context():
        assert mod.request.max_content_length == 5
        assert mod.request.max_form_memory_size == 6
        assert mod.request.max_form_parts == 7
        mod.request.max_content_length = 50
        assert mod.request.max_content_length == 50
    with mod.Flask(__name__).test_request_context():
        assert mod.request.max_content_length is None
        assert mod.request.max_form_memory_size == 500_000
        assert mod.request.max_form_parts == 1_000


def test_endpoint_blueprint_view_args_url_rule() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)

        def describe(**kwargs: t.Any) -> str:
            req = m.request
            rule = req.url_rule.rule if req.url_rule is not None else None
            return (
                f"endpoint={req.endpoint} blueprint={req.blueprint} "
                f"blueprints={req.blueprints} view_args={req.view_args} rule={rule}"
            )

        app.add_url_rule("/app/<int:n>", "app_view", describe)
        parent = m.Blueprint("parent", __name__, url_prefix="/parent")
        child = m.Blueprint("child", __name__, url_prefix="/child")
        parent.add_url_rule("/<name>", "parent_view", describe)
        child.add_url_rule("/", "child_view", describe)
        parent.register_blueprint(child)
        app.register_blueprint(parent)
        return app

    app_view, parent_view, child_view = compare(build, "/app/3", "/parent/ann", "/parent/child/")
    assert app_view.text == (
        "endpoint=app_view blueprint=None blueprints=[] view_args={'n': 3} rule=/app/<int:n>"
    )
    assert parent_view.text == (
        "endpoint=parent.parent_view blueprint=parent blueprints=['parent'] "
        "view_args={'name': 'ann'} rule=/parent/<name>"
    )
    assert child_view.text == (
        "endpoint=parent.child.child_view blueprint=parent.child "
        "blueprints=['parent.child', 'parent'] view_args={} rule=/parent/child/"
    )


def test_request_basics_match_flask() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)

        @app.route("/echo", methods=["GET", "POST", "PUT"])
        def echo() -> t.Any:
            req = m.request
            return {
                "method": req.method,
                "args": req.args.to_dict(flat=False),
                "form": req.form.to_dict(flat=False),
                "files": {k: f.filename for k, f in req.files.items()},
                "data": req.get_data(as_text=True) if not req.form else "",
                "url": req.url,
                "base_url": req.base_url,
                "host_url": req.host_url,
                "script_root": req.script_root,
                "full_path": req.full_path,
                "mimetype": req.mimetype,
                "cookies": req.cookies.to_dict(),
                "remote_addr": req.remote_addr,
                "user_agent": req.user_agent.string,
                "accept": req.accept_mimetypes.best,
            }

        return app

    results = compare(
        build,
        lambda c: c.get("/echo?a=1&a=2&b=%C3%A9"),
        lambda c: c.post("/echo", data={"f": ["1", "2"], "up": (io.BytesIO(b"z"), "z.bin")}),
        lambda c: c.put("/echo", data=b"raw body", headers={"Accept": "text/csv"}),
        lambda c: c.get("/echo", base_url="https://h.test:8443/mount"),
    )
    first = results[0].text
    assert '"args":{"a":["1","2"],"b":["\\u00e9"]}' in first
    assert '"full_path":"/echo?a=1&a=2&b=%C3%A9"' in first
    assert '"files":{"up":"z.bin"}' in results[1].text
    assert '"data":"raw body"' in results[2].text
    assert '"script_root":"/mount"' in results[3].text
    assert '"accept":"text/csv"' in results[2].text
