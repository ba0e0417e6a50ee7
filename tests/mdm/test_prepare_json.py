"""The raw payload's text and hash do not depend on which JSON library wrote them."""
import json

from hypothesis import given
from hypothesis import strategies as st

from mdm.prepare import compact_json


def stdlib(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


flat_values = st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=True),
                        st.lists(st.text(), max_size=3))


@given(st.dictionaries(st.text(), flat_values, max_size=12))
def test_compact_json_writes_exactly_what_the_standard_library_writes(payload):
    assert compact_json(payload) == stdlib(payload)


def test_strings_with_quotes_control_characters_and_non_ascii_come_out_the_same():
    payload = {"name": 'Müller "&" <b>Söhne</b>\\', "note": "a\tb\nc\x00\x1f\x7f\u2028", "id": 12, "vip": True,
               "fax": None}
    assert compact_json(payload) == stdlib(payload)


def test_values_orjson_refuses_or_writes_differently_take_the_standard_librarys_path():
    for payload in ({"big": 2**70}, {"lone": "\ud800"}, {"ratio": 1e16}, {"nested": {"a": [1.5, None]}}):
        assert compact_json(payload) == stdlib(payload)
