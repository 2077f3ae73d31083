"""Config loaders behave like Flask's on the same inputs."""

from __future__ import annotations

import json
import os
import tomllib
import typing as t
from pathlib import Path

import flask
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from framework.config import Config, ConfigAttribute

CONFIG_CLASSES: list[type[Config] | type[flask.Config]] = [Config, flask.Config]


def _clear_prefixed(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    for key in list(os.environ):
        if key.startswith(prefix):
            monkeypatch.delenv(key)


def test_defaults_and_repr() -> None:
    config = Config("/srv/app", {"DEBUG": True})
    assert config["DEBUG"] is True
    assert config.root_path == "/srv/app"
    assert repr(config) == "<Config {'DEBUG': True}>"
    assert repr(Config("/")) == repr(flask.Config("/"))

    class MyConfig(Config):
        pass

    assert repr(MyConfig(".", {"A": 1})) == "<MyConfig {'A': 1}>"


def test_defaults_are_copied() -> None:
    defaults = {"A": 1}
    config = Config(".", defaults)
    config["A"] = 2
    assert defaults == {"A": 1}


def test_from_mapping_keeps_uppercase_only() -> None:
    for cls in CONFIG_CLASSES:
        config = cls(".")
        assert config.from_mapping({"SECRET_KEY": "a", "lower": 1}, DEBUG=True, mixed_Case=2)
        assert dict(config) == {"SECRET_KEY": "a", "DEBUG": True}
    config = Config(".")
    config.from_mapping({"A": 1}, A=2)
    assert config["A"] == 2
    assert Config(".").from_mapping() is True


def test_from_object_class_instance_and_import_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Base:
        DEBUG = False
        SECRET_KEY = "base"
        helper = "ignored"

    class Prod(Base):
        DEBUG = True

    config = Config(".")
    config.from_object(Prod)
    assert dict(config) == {"DEBUG": True, "SECRET_KEY": "base"}

    (tmp_path / "fw_cfg_settings.py").write_text("NAME = 'x'\nlower = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = Config(".")
    config.from_object("fw_cfg_settings")
    assert dict(config) == {"NAME": "x"}


def test_from_object_bad_import_string_raises() -> None:
    with pytest.raises(ImportError):
        Config(".").from_object("no_such_module_for_config_tests.Settings")


def test_from_pyfile_relative_to_root_path(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text(
        "import os\nSECRET_KEY = 'dev'\nHERE = os.path.basename(__file__)\nlower_helper = 3\n"
    )
    for cls in CONFIG_CLASSES:
        config = cls(tmp_path)
        assert config.from_pyfile("settings.py") is True
        assert dict(config) == {"SECRET_KEY": "dev", "HERE": "settings.py"}


def test_from_pyfile_absolute_path_ignores_root(tmp_path: Path) -> None:
    path = tmp_path / "abs.py"
    path.write_text("X = 1\n")
    config = Config("/somewhere/else")
    config.from_pyfile(str(path))
    assert config["X"] == 1


def test_from_pyfile_missing_file_message_matches_flask(tmp_path: Path) -> None:
    messages = []
    for cls in CONFIG_CLASSES:
        with pytest.raises(OSError) as info:
            cls(tmp_path).from_pyfile("missing.py")
        messages.append(str(info.value))
        assert isinstance(info.value, FileNotFoundError)
    missing = str(tmp_path / "missing.py")
    assert messages[0] == messages[1]
    assert "Unable to load configuration file (No such file or directory)" in messages[0]
    assert repr(missing) in messages[0]


def test_from_pyfile_silent(tmp_path: Path) -> None:
    assert Config(tmp_path).from_pyfile("missing.py", silent=True) is False
    # A directory is "not a config file" too, so silent tolerates it.
    (tmp_path / "adir").mkdir()
    assert Config(tmp_path).from_pyfile("adir", silent=True) is False


def test_from_pyfile_syntax_error_propagates(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("X = (\n")
    with pytest.raises(SyntaxError) as info:
        Config(tmp_path).from_pyfile("broken.py", silent=True)
    assert info.value.filename == str(tmp_path / "broken.py")


def test_from_envvar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FW_TEST_SETTINGS", raising=False)
    with pytest.raises(RuntimeError) as info:
        Config(tmp_path).from_envvar("FW_TEST_SETTINGS")
    message = str(info.value)
    assert "'FW_TEST_SETTINGS' is not set" in message
    assert "Set this variable" in message
    assert Config(tmp_path).from_envvar("FW_TEST_SETTINGS", silent=True) is False

    (tmp_path / "cfg.py").write_text("FROM_ENV = 'yes'\n")
    monkeypatch.setenv("FW_TEST_SETTINGS", str(tmp_path / "cfg.py"))
    config = Config(tmp_path)
    assert config.from_envvar("FW_TEST_SETTINGS") is True
    assert config["FROM_ENV"] == "yes"

    monkeypatch.setenv("FW_TEST_SETTINGS", str(tmp_path / "nope.py"))
    with pytest.raises(FileNotFoundError):
        Config(tmp_path).from_envvar("FW_TEST_SETTINGS")
    assert Config(tmp_path).from_envvar("FW_TEST_SETTINGS", silent=True) is False


def test_from_file_json_and_toml(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps({"A": [1, 2], "b": 3}))
    (tmp_path / "c.toml").write_text('A = "toml"\nlow = 1\n[DB]\nHOST = "h"\n')
    for cls in CONFIG_CLASSES:
        config = cls(tmp_path)
        assert config.from_file("c.json", load=json.load) is True
        assert dict(config) == {"A": [1, 2]}
        config.from_file("c.toml", load=tomllib.load, text=False)
        assert dict(config) == {"A": "toml", "DB": {"HOST": "h"}}


def test_from_file_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        Config(tmp_path).from_file("c.json", load=json.load)
    with pytest.raises(FileNotFoundError) as flask_info:
        flask.Config(tmp_path).from_file("c.json", load=json.load)
    assert str(info.value) == str(flask_info.value)
    assert Config(tmp_path).from_file("c.json", load=json.load, silent=True) is False


def test_from_prefixed_env_matches_flask(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_prefixed(monkeypatch, "FLASK_")
    env = {
        "FLASK_SECRET_KEY": "not json",
        "FLASK_DEBUG": "true",
        "FLASK_PORT": "8080",
        "FLASK_RATIO": "0.5",
        "FLASK_LIST": "[1, 2]",
        "FLASK_OBJ": '{"a": 1}',
        "FLASK_NONE": "null",
        "FLASK_DB__HOST": "localhost",
        "FLASK_DB__OPTS__TIMEOUT": "3",
        "FLASK_EXISTING__NEW": "1",
        "FLASK_lower": "kept",
        "FLASKNOUNDERSCORE": "ignored",
        "OTHER_X": "ignored",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    ours = Config(".", {"EXISTING": {"OLD": 0}})
    theirs = flask.Config(".", {"EXISTING": {"OLD": 0}})
    assert ours.from_prefixed_env() is True
    theirs.from_prefixed_env()
    assert ours == theirs
    assert ours["SECRET_KEY"] == "not json"
    assert ours["DEBUG"] is True
    assert ours["PORT"] == 8080
    assert ours["NONE"] is None
    assert ours["DB"] == {"HOST": "localhost", "OPTS": {"TIMEOUT": 3}}
    assert ours["EXISTING"] == {"OLD": 0, "NEW": 1}
    assert ours["lower"] == "kept"
    assert "NOUNDERSCORE" not in ours


def test_from_prefixed_env_custom_prefix_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_prefixed(monkeypatch, "MYAPP_")
    monkeypatch.setenv("MYAPP_NAME", "abc")
    monkeypatch.setenv("MYAPP_N", "1")

    def loads(value: str) -> t.Any:
        if value.isdigit():
            return int(value) * 10
        raise ValueError(value)

    config = Config(".")
    config.from_prefixed_env("MYAPP", loads=loads)
    assert dict(config) == {"NAME": "abc", "N": 10}


def test_from_prefixed_env_sorted_so_nested_key_wins_deterministically(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clear_prefixed(monkeypatch, "ORD_")
    # "ORD_A" sorts before "ORD_A__B" whatever order the environment lists them in, so the
    # nested key is merged into the dict instead of being overwritten by it.
    monkeypatch.setenv("ORD_A__B", "1")
    monkeypatch.setenv("ORD_A", '{"C": 2}')
    for cls in CONFIG_CLASSES:
        config = cls(".")
        config.from_prefixed_env("ORD")
        assert config["A"] == {"C": 2, "B": 1}


_env_key = st.text(alphabet="AB_", min_size=1, max_size=6)
_env_value = st.sampled_from(["1", "x", "true", "[1]", '{"k": 2}', "null", "2.5", ""])


@settings(database=None)
@given(st.dictionaries(_env_key, _env_value, max_size=6))
def test_from_prefixed_env_property_matches_flask(env: dict[str, str]) -> None:
    saved = {k: v for k, v in os.environ.items() if k.startswith("HYP_")}
    for key in saved:
        del os.environ[key]
    try:
        os.environ.update({f"HYP_{k}": v for k, v in env.items()})
        results: list[t.Any] = []
        for cls in CONFIG_CLASSES:
            config = cls(".")
            try:
                config.from_prefixed_env("HYP")
            except Exception as exc:
                results.append(type(exc))
            else:
                results.append(dict(config))
        assert results[0] == results[1]
    finally:
        for key in [k for k in os.environ if k.startswith("HYP_")]:
            del os.environ[key]
        os.environ.update(saved)


def test_get_namespace_matches_flask() -> None:
    values = {
        "IMAGE_STORE_TYPE": "fs",
        "IMAGE_STORE_PATH": "/var/images",
        "IMAGE_STORE_BASE_URL": "http://img",
        "IMAGE_STORE": "plain",
        "FOREIGN": 1,
    }
    ours, theirs = Config(".", values), flask.Config(".", values)
    assert ours.get_namespace("IMAGE_STORE_") == {
        "type": "fs",
        "path": "/var/images",
        "base_url": "http://img",
    }
    for kwargs in (
        {},
        {"lowercase": False},
        {"trim_namespace": False},
        {"lowercase": False, "trim_namespace": False},
    ):
        assert ours.get_namespace("IMAGE_STORE_", **kwargs) == theirs.get_namespace(
            "IMAGE_STORE_", **kwargs
        )
    assert ours.get_namespace("NOPE_") == {}


class _Holder:
    def __init__(self) -> None:
        self.config = Config(".", {"DEBUG": "1", "NAME": "n"})

    debug = ConfigAttribute[bool]("DEBUG", get_converter=lambda v: v == "1")
    name = ConfigAttribute[str]("NAME")


def test_config_attribute_forwards_to_config() -> None:
    holder = _Holder()
    assert holder.debug is True
    assert holder.name == "n"
    holder.name = "changed"
    assert holder.config["NAME"] == "changed"
    holder.debug = False
    # The converter applies on read only; the raw value is stored.
    assert holder.config["DEBUG"] is False
    assert holder.debug is False
    assert isinstance(_Holder.__dict__["name"], ConfigAttribute)
    assert isinstance(_Holder.name, ConfigAttribute)
    del holder.config["NAME"]
    with pytest.raises(KeyError):
        _ = holder.name
