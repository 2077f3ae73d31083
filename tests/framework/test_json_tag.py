"""Tagged JSON: lossless round trips, and a wire format identical to Flask's."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import flask.json.tag as flask_tag
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from framework.json.tag import JSONTag, TaggedJSONSerializer

UID = UUID("12345678-1234-5678-1234-567812345678")
WHEN = datetime(2024, 2, 29, 13, 45, 7, tzinfo=UTC)

# Values whose type survives the trip exactly.
ROUND_TRIP_VALUES: list[t.Any] = [
    None,
    True,
    0,
    -7,
    2.5,
    "",
    "plain",
    "\u00e9t\u00e9 \u2603 \U0001f600",
    [],
    {},
    (),
    (1, "two", None),
    [1, (2, 3), [4, (5,)]],
    b"\x00\xffbinary",
    Markup("<b>bold</b>"),
    UID,
    WHEN,
    {"a": 1, "b": [1, 2], "c": {"d": (b"x",)}},
    {"z": 1, "a": 2, "m": 3},
    {" t": [1, 2]},
    {" di": {"x": 1}},
    {" t__": 1},
    {" b": "looks like bytes"},
    {" t": (" t", {" u": UID})},
    {" unknown": 1},
    [{" m": "<i>"}, {"k": Markup("&amp;")}],
    {"when": WHEN, "id": UID, "raw": b"", "html": Markup("")},
]


@pytest.mark.parametrize("value", ROUND_TRIP_VALUES, ids=repr)
def test_round_trip_preserves_value_and_type(value: t.Any) -> None:
    s = TaggedJSONSerializer()
    loaded = s.loads(s.dumps(value))
    assert loaded == value
    assert repr(loaded) == repr(value)


@pytest.mark.parametrize("value", ROUND_TRIP_VALUES, ids=repr)
def test_wire_format_matches_flask(value: t.Any) -> None:
    ours = TaggedJSONSerializer()
    theirs = flask_tag.TaggedJSONSerializer()
    text = ours.dumps(value)
    assert text == theirs.dumps(value)
    assert repr(theirs.loads(text)) == repr(value)
    assert repr(ours.loads(theirs.dumps(value))) == repr(value)


def test_known_encodings() -> None:
    s = TaggedJSONSerializer()
    assert s.dumps((1, 2)) == '{" t":[1,2]}'
    assert s.dumps(b"hi") == '{" b":"aGk="}'
    assert s.dumps(Markup("<p>")) == '{" m":"<p>"}'
    assert s.dumps(UID) == '{" u":"12345678123456781234567812345678"}'
    assert s.dumps(WHEN) == '{" d":"Thu, 29 Feb 2024 13:45:07 GMT"}'
    assert s.dumps({" t": 1}) == '{" di":{" t__":1}}'
    assert s.dumps("caf\u00e9") == '"caf\\u00e9"'


def test_datetimes_load_as_utc_whole_seconds() -> None:
    s = TaggedJSONSerializer()
    naive = datetime(2020, 1, 2, 3, 4, 5, 678901)
    assert s.loads(s.dumps(naive)) == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    eastern = datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    loaded = s.loads(s.dumps(eastern))
    assert loaded == eastern
    assert loaded.tzinfo == UTC
    assert s.dumps(naive) == flask_tag.TaggedJSONSerializer().dumps(naive)


def test_objects_with_html_method_load_as_markup() -> None:
    class Widget:
        def __html__(self) -> str:
            return "<widget>"

    s = TaggedJSONSerializer()
    loaded = s.loads(s.dumps({"w": Widget()}))
    assert loaded == {"w": Markup("<widget>")}
    assert type(loaded["w"]) is Markup


def test_untag_leaves_other_dicts_alone() -> None:
    s = TaggedJSONSerializer()
    assert s.untag({" t": [1]}) == (1,)
    assert s.untag({" nope": [1]}) == {" nope": [1]}
    assert s.untag({" t": [1], "x": 2}) == {" t": [1], "x": 2}
    assert s.untag({}) == {}


def test_tag_method_wraps_value_under_key() -> None:
    s = TaggedJSONSerializer()
    assert s.tag((1, b"a")) == {" t": [1, {" b": "YQ=="}]}
    assert s.tag("x") == "x"
    assert s.tag([("a",)]) == [{" t": ["a"]}]


class TagFrozenSet(JSONTag):
    key = " fs"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, frozenset)

    def to_json(self, value: t.Any) -> t.Any:
        return sorted(self.serializer.tag(item) for item in value)

    def to_python(self, value: t.Any) -> t.Any:
        return frozenset(value)


def test_register_custom_tag() -> None:
    s = TaggedJSONSerializer()
    s.register(TagFrozenSet)
    assert s.dumps(frozenset({2, 1})) == '{" fs":[1,2]}'
    assert s.loads('{" fs":[1,2]}') == frozenset({1, 2})
    # The new key also counts as tag-like for dict escaping.
    assert s.loads(s.dumps({" fs": [1]})) == {" fs": [1]}
    # Registration is per instance.
    assert TaggedJSONSerializer().loads('{" fs":[1,2]}') == {" fs": [1, 2]}


def test_register_existing_key_raises_unless_forced() -> None:
    class OtherTuple(JSONTag):
        key = " t"

        def check(self, value: t.Any) -> bool:
            return isinstance(value, tuple)

        def to_json(self, value: t.Any) -> t.Any:
            return list(reversed(value))

        def to_python(self, value: t.Any) -> t.Any:
            return tuple(reversed(value))

    s = TaggedJSONSerializer()
    with pytest.raises(KeyError, match=r"' t'.*force=True"):
        s.register(OtherTuple)
    assert s.dumps((1, 2)) == '{" t":[1,2]}'

    s.register(OtherTuple, force=True, index=0)
    assert s.dumps((1, 2)) == '{" t":[2,1]}'
    assert s.loads('{" t":[2,1]}') == (1, 2)


def test_register_index_controls_precedence() -> None:
    class Point(t.NamedTuple):
        x: int
        y: int

    class TagPoint(JSONTag):
        key = " pt"

        def check(self, value: t.Any) -> bool:
            return isinstance(value, Point)

        def to_json(self, value: t.Any) -> t.Any:
            return [value.x, value.y]

        def to_python(self, value: t.Any) -> t.Any:
            return Point(*value)

    appended = TaggedJSONSerializer()
    appended.register(TagPoint)
    # The tuple tag comes first and claims the named tuple.
    assert appended.dumps(Point(1, 2)) == '{" t":[1,2]}'

    first = TaggedJSONSerializer()
    first.register(TagPoint, index=0)
    assert first.dumps(Point(1, 2)) == '{" pt":[1,2]}'
    assert type(first.loads(first.dumps(Point(1, 2)))) is Point


def test_custom_tag_for_str_subclass() -> None:
    class Secret(str):
        pass

    class TagSecret(JSONTag):
        key = " s"

        def check(self, value: t.Any) -> bool:
            return isinstance(value, Secret)

        def to_json(self, value: t.Any) -> t.Any:
            return value[::-1]

        def to_python(self, value: t.Any) -> t.Any:
            return Secret(value[::-1])

    s = TaggedJSONSerializer()
    s.register(TagSecret)
    assert s.dumps(Secret("abc")) == '{" s":"cba"}'
    assert type(s.loads(s.dumps(Secret("abc")))) is Secret


def test_custom_tag_may_claim_plain_strings() -> None:
    # A tag that matches exact str values must see them: no shortcut may skip the scan.
    class TagShout(JSONTag):
        key = " sh"

        def check(self, value: t.Any) -> bool:
            return isinstance(value, str) and value.isupper()

        def to_json(self, value: t.Any) -> t.Any:
            return value.lower()

        def to_python(self, value: t.Any) -> t.Any:
            return value.upper()

    s = TaggedJSONSerializer()
    s.register(TagShout, index=0)
    assert s.dumps(["HEY", "hey"]) == '[{" sh":"hey"},"hey"]'
    assert s.loads('[{" sh":"hey"},"hey"]') == ["HEY", "hey"]


def test_markup_subclass_of_str_is_still_tagged() -> None:
    s = TaggedJSONSerializer()
    assert s.dumps(Markup("x")) == '{" m":"x"}'


def test_base_tag_methods_must_be_overridden() -> None:
    tag = JSONTag(TaggedJSONSerializer())
    with pytest.raises(NotImplementedError):
        tag.check(1)
    with pytest.raises(NotImplementedError):
        tag.to_json(1)
    with pytest.raises(NotImplementedError):
        tag.to_python(1)


def test_default_tags_keys_and_order_match_flask() -> None:
    ours = [(c.__name__, c.key) for c in TaggedJSONSerializer.default_tags]
    theirs = [(c.__name__, c.key) for c in flask_tag.TaggedJSONSerializer.default_tags]
    assert ours == theirs


def test_loads_accepts_bytes() -> None:
    assert TaggedJSONSerializer().loads(b'{" t":[1]}') == (1,)


# Any tag key, its escaped form, or an ordinary key: exercises dict escaping thoroughly.
keys = st.sampled_from([" t", " di", " b", " m", " u", " d", " t__", " x", "a", "b"]) | st.text(
    max_size=4
)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.uuids()
    # HTTP dates carry whole seconds and the parser reads years below 100 as 19xx/20xx.
    | st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)).map(
        lambda d: d.replace(microsecond=0, fold=0)
    )
    | st.text(max_size=8).map(Markup)
)
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(database=None)
@given(values)
def test_any_value_matches_flask_and_round_trips(value: t.Any) -> None:
    ours = TaggedJSONSerializer()
    theirs = flask_tag.TaggedJSONSerializer()
    text = ours.dumps(value)
    assert text == theirs.dumps(value)
    assert repr(ours.loads(text)) == repr(value)
    assert repr(theirs.loads(text)) == repr(value)
