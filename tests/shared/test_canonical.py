"""Canonical JSON: the examples of RFC 8785 and the stricter rules of shared.canonical."""

from __future__ import annotations

import pytest

from shared.canonical import CanonicalJSONError, canonical_json, load_canonical

# RFC 8785 section 3.2.2, less its "numbers" member (floats are refused here, see below).
RFC_INPUT = rb"""{
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC_OUTPUT = r"""{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}""".encode()


def test_rfc8785_string_and_literal_example():
    value = {"string": '\u20ac$\u000f\nA\'B"\\\\"/', "literals": [None, True, False]}
    assert canonical_json(value) == RFC_OUTPUT
    assert load_canonical(RFC_OUTPUT) == value
    with pytest.raises(CanonicalJSONError, match="canonical form"):
        load_canonical(RFC_INPUT)


def test_rfc8785_property_sorting_example():
    # Section 3.2.3: keys sort by their UTF-16 code units, so U+1F600 (D83D DE00) sorts
    # before U+FB33, unlike a sort by code points.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert list(load_canonical(canonical_json(value))) == order
    assert canonical_json(value).startswith(b'{"\\r":"Carriage Return","1":"One",')


def test_integers_and_nesting():
    value = {"b": [1, -2, 0, 2**53 - 1, -(2**53 - 1)], "a": {"z": {}, "y": []}}
    expected = b'{"a":{"y":[],"z":{}},"b":[1,-2,0,9007199254740991,-9007199254740991]}'
    assert canonical_json(value) == expected
    assert load_canonical(expected) == value


@pytest.mark.parametrize(
    "value",
    [
        # RFC 8785 section 3.2.2 "numbers": valid JCS, refused here.
        {"numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001]},
        {"n": 1.0},
        {"n": float("nan")},
        {"n": 2**53},
        {1: "non-string key"},
        {"s": "lone \ud800 surrogate"},
        {"lone \ud800 surrogate in a key": 1, "a": 2},  # rfc8785 raised UnicodeEncodeError
        {"b": b"bytes"},
        {"s": {1, 2}},
    ],
)
def test_values_without_a_canonical_form_are_refused(value):
    with pytest.raises(CanonicalJSONError):
        canonical_json(value)


@pytest.mark.parametrize(
    "data",
    [
        b'{"b":1,"a":2}',  # unsorted
        b'{"a": 1}',  # whitespace
        b'{"a":1,"a":1}',  # duplicate key
        b'{"a":"\\u00e9"}',  # escaped where JCS writes the character
        b'{"\\ud800":"x"}',  # a lone surrogate in a key
        b'{"a":1.5}',
        b'{"a":1e2}',
        b'{"a":NaN}',
        b'{"a":"\xff"}',
        b'{"a":',
        b"\xef\xbb\xbf{}",  # byte order mark
        b'{"a":1}\n',
    ],
)
def test_bytes_that_are_not_canonical_are_refused(data):
    with pytest.raises(CanonicalJSONError):
        load_canonical(data)
