"""The columnar loader (shared/exclusions/loading.py) judges every body as parse_body does.

Valid lists (generated, with quotes, backslashes, inner spaces, non-ASCII and long values)
must be taken by the fast path itself and give parse_body's rules; any change to a valid
body must be accepted or refused exactly as parse_body accepts or refuses it, with its
message; and each hand-written bad body is refused by the fast path and reported with the
line and reason parse_body gives.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.exclusions import loading
from shared.exclusions.format import (
    Matcher,
    RuleError,
    build_body,
    content_rule,
    file_rule,
    new_salt,
    owner_rule,
    parse_body,
    repository_rule,
)
from shared.exclusions.loading import RuleList, fast_rules, load_rules

SALT = bytes(range(32))
# Quotes and backslashes (escaped in JSON), white space inside a value, letters whose lower
# case differs between Python and Arrow (İ, ẞ), other scripts, a character outside the BMP.
ALPHABET = 'aZ09-_.~ "\\\'éÉßẞİΣς\u00a0\u2028\u3000日😀x'
text = st.text(alphabet=ALPHABET, min_size=1, max_size=12)
long_text = st.builds(lambda a, b: a + "y" * 40 + b, text, text)
value = st.one_of(text, text, long_text)
path = st.lists(value, min_size=1, max_size=3).map("/".join)
hex64 = st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64)
hex40 = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)


def make(kind, host, owner, name, path_, sha256, blob):
    """A valid rule from the parts, or None when the constructors refuse them."""
    try:
        if kind == 0:
            return owner_rule(host, owner)
        if kind == 1:
            return repository_rule(host, owner, name)
        if kind == 2:
            return file_rule(host, owner, name, path_, sha256)
        return content_rule(blob)
    except RuleError:
        return None


rule = st.builds(make, st.integers(0, 3), st.one_of(st.sampled_from(["github.com", "GitLab.com"]),
                                                    value), value, value, path,
                 st.one_of(st.none(), hex64), hex40)
rule_lists = st.lists(rule, max_size=25).map(lambda rs: [r for r in rs if r is not None])


def outcome(load, body: bytes, hashed: bool):
    """("ok", rules) or ("refused", message)."""
    try:
        return "ok", list(load(body, hashed=hashed))
    except RuleError as error:
        return "refused", str(error)


def loaded(body: bytes, hashed: bool) -> RuleList:
    return RuleList(load_rules(body, hashed=hashed))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rule_lists, hashed=st.booleans())
def test_valid_lists_take_the_fast_path_and_give_parse_bodys_rules(rules, hashed):
    body = build_body(rules, salt=SALT if hashed else None)
    expected = parse_body(body, hashed=hashed)
    table = fast_rules(body, hashed=hashed)
    assert table is not None, "a valid body fell back to the line-by-line parser"
    assert list(RuleList(table)) == expected
    matcher = Matcher(body, SALT if hashed else None)
    assert list(matcher.rules) == expected and len(matcher) == len(expected)
    assert matcher.kinds == {r["kind"] for r in expected}
    assert [matcher.rules[i] for i in range(len(expected))] == expected


def test_escaped_values_are_read_by_the_json_parser_and_split_ones_without_it():
    quoted = [file_rule("github.com", 'a"b', "c\\d", 'dir "x"/f\\g.py'), owner_rule("h", "o")]
    plain = [file_rule("github.com", "a b", "ÉTÉ", "src/Été.py", "AB" * 32), owner_rule("h", "o")]
    for rules in (quoted, plain):
        body = build_body(rules)
        assert (b"\\" in body) is (rules is quoted)  # the two ways of reading the values
        assert list(RuleList(fast_rules(body))) == parse_body(body)


@pytest.mark.parametrize("hashed", [False, True])
def test_bodies_over_2_gib_are_read_with_64_bit_offsets(monkeypatch, hashed):
    body = build_body([file_rule("github.com", "o", "r", "a/b.py"), content_rule("a" * 40),
                       repository_rule("gitlab.com", 'q"', "r")], salt=SALT if hashed else None)
    monkeypatch.setattr(loading, "LARGE", 0)
    assert list(RuleList(fast_rules(body, hashed=hashed))) == parse_body(body, hashed=hashed)
    assert fast_rules(body[:-1] + b" \n", hashed=hashed) is None


INTERESTING = [b'"', b"\\", b"{", b"}", b":", b",", b" ", b"\n", b"\r", b"\t", b"A", b"/",
               b".", b"\x00", b"\x7f", b"\xff", b"\xc3", b"\xc2\xa0", b"0", b"a", b"1.0",
               b"null", b'"h":"', b',"name":"x"', b',"sha256":"' + b"a" * 64 + b'"',
               b'"kind":"user"', b"\\u0041", b"\\/", b"\\u0001", b"\xef\xbb\xbf", b"[]", b"{}",
               b'"owner":"a",', b"\\\\", b'\\"', b"\xe2\x80\xa8", b"\xc3\x89", b"\\ud800"]


@st.composite
def mutated(draw):
    rules = draw(rule_lists.filter(bool))
    hashed = draw(st.booleans())
    body = bytearray(build_body(rules, salt=SALT if hashed else None))
    for _ in range(draw(st.integers(1, 3))):
        lines = bytes(body).split(b"\n")[:-1]
        op = draw(st.sampled_from(["replace", "insert", "delete", "swap", "duplicate",
                                   "upper", "strip-newline", "blank-line"]))
        at = draw(st.integers(0, len(body) - 1))
        if op == "replace":
            body[at:at + draw(st.integers(1, 4))] = draw(st.sampled_from(INTERESTING))
        elif op == "insert":
            body[at:at] = draw(st.sampled_from(INTERESTING))
        elif op == "delete":
            del body[at:at + draw(st.integers(1, 3))]
        elif op in ("swap", "duplicate") and lines:
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if op == "swap":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines.insert(i, lines[i])
            body = bytearray(b"".join(line + b"\n" for line in lines))
        elif op == "upper":
            body[at:at + 8] = bytes(body[at:at + 8]).upper()
        elif op == "strip-newline":
            body = body.rstrip(b"\n")
        elif op == "blank-line":
            body[at:at] = b"\n"
        if not body:
            break
    return bytes(body), hashed


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_any_change_to_a_valid_body_is_judged_as_parse_body_judges_it(case):
    body, hashed = case
    expected = outcome(parse_body, body, hashed)
    assert outcome(loaded, body, hashed) == expected
    if expected[0] == "refused":
        assert fast_rules(body, hashed=hashed) is None


GOOD = b'{"host":"github.com","kind":"owner","owner":"a"}\n'
SHA = "ab" * 32
HASH = "cd" * 32
BAD_PLAIN = [
    b'{"host":"github.com","kind":"owner","owner":"a"}',  # no trailing newline
    b"\n",  # an empty line
    GOOD + b"\n",  # an empty last line
    b'{"kind":"owner","host":"github.com","owner":"a"}\n',  # keys not sorted
    b'{"host": "github.com","kind":"owner","owner":"a"}\n',  # white space between tokens
    b'{"host":"github.com","kind":"owner","owner":"a"} \n',  # white space after the object
    b'{"host":"github.com";"kind":"owner","owner":"a"}\n',  # not a comma
    b'{"host"="github.com","kind":"owner","owner":"a"}\n',  # not a colon
    b'("host":"github.com","kind":"owner","owner":"a"}\n',  # not a brace
    b'{"host":"github.com","kind":"owner","owner":"a")\n',
    b'{"host":"github.com","host":"github.com","kind":"owner","owner":"a"}\n',  # duplicate key
    b'{"host":"github.com","kind":"owner","owner":"A"}\n',  # upper case
    b'{"host":"github.com","kind":"owner","owner":"\xc3\x89t\xc3\xa9"}\n',  # upper case, non-ASCII
    b'{"host":"github.com","kind":"owner","owner":"\\u0041"}\n',  # an escape RFC 8785 never makes
    b'{"host":"github.com","kind":"owner","owner":"\\u0061"}\n',  # ditto, lower-case letter
    b'{"host":"github.com","kind":"owner","owner":"a\\/b"}\n',  # escaped slash
    b'{"host":"github.com","kind":"owner","owner":"a\\u0001"}\n',  # control character
    b'{"host":"github.com","kind":"owner","owner":"a\x7f"}\n',  # DEL
    b'{"host":"github.com","kind":"owner","owner":"a\xff"}\n',  # not UTF-8
    b'{"host":"github.com","kind":"owner","owner":"\xed\xa0\x80"}\n',  # a UTF-8 surrogate
    b'{"host":"github.com","kind":"owner","owner":"\\ud800"}\n',  # a lone surrogate escape
    b'{"\\ud800host":"github.com","kind":"owner","owner":"a"}\n',  # ... in a key
    b'{"host":"github.com","kind":"owner","owner":"a"}\r\n',  # CRLF
    b'\xef\xbb\xbf{"host":"github.com","kind":"owner","owner":"a"}\n',  # BOM
    b'{"host":"github.com","kind":"owner","owner":" a"}\n',  # leading space
    b'{"host":"github.com","kind":"owner","owner":"a\xc2\xa0"}\n',  # trailing NBSP
    b'{"host":"github.com","kind":"owner","owner":"a\xe2\x80\xa8"}\n',  # trailing U+2028
    b'{"host":"github.com","kind":"owner","owner":"\xe3\x80\x80a"}\n',  # leading U+3000
    b'{"host":"github.com","kind":"owner","owner":"a/b"}\n',  # '/' in an owner
    b'{"host":"github.com","kind":"owner","owner":""}\n',  # empty
    b'{"host":"github.com","kind":"owner","owner":"' + b"a" * 4097 + b'"}\n',  # too long
    b'{"host":"github.com","kind":"owner","owner":"' + "é".encode() * 4097 + b'"}\n',
    b'{"host":"github.com","kind":"owner","owner":null}\n',  # null
    b'{"host":"github.com","kind":"owner","owner":1}\n',  # a number
    b'{"host":"github.com","kind":"owner","owner":1.0}\n',  # a float
    b'{"host":"github.com","kind":"owner","owner":["a"]}\n',  # an array
    b'{"host":"github.com","kind":"owner","owner":{"a":"b"}}\n',  # an object
    b'{"host":"github.com","kind":"owner"}\n',  # a key missing
    b'{"host":"github.com","kind":"owner","name":"x","owner":"a"}\n',  # a key too many
    b'{"host":"github.com","kind":"owner","name":null,"owner":"a"}\n',  # a null key too many
    b'{"host":"github.com","kind":"owner","other":"x","owner":"a"}\n',  # an unknown key
    b'{"host":"github.com","kind":"user","owner":"a"}\n',  # an unknown kind
    b'{"host":"github.com","kind":null,"owner":"a"}\n',  # no kind
    b'{"h":"' + HASH.encode() + b'","kind":"owner"}\n',  # a hashed rule in a plain list
    b'{"host":"github.com","kind":"repository","name":"Spoon","owner":"a"}\n',
    b'{"host":"github.com","kind":"repository","name":"s","owner":"a","path":"p"}\n',
    b'{"host":"github.com","kind":"file","name":"s","owner":"a","path":"/abs"}\n',
    b'{"host":"github.com","kind":"file","name":"s","owner":"a","path":"a//b"}\n',
    b'{"host":"github.com","kind":"file","name":"s","owner":"a","path":"a/"}\n',
    b'{"host":"github.com","kind":"file","name":"s","owner":"a","path":"./a"}\n',
    b'{"host":"github.com","kind":"file","name":"s","owner":"a","path":"a/../b"}\n',
    b'{"host":"github.com","kind":"file","name":"s","owner":"a","path":"a/b "}\n',
    b'{"host":"github.com","kind":"file","name":"s","owner":"a","path":"p","sha256":"'
    + SHA.upper().encode() + b'"}\n',  # upper-case hex
    b'{"host":"github.com","kind":"file","name":"s","owner":"a","path":"p","sha256":"'
    + SHA[:-1].encode() + b'"}\n',  # 63 digits
    b'{"host":"github.com","kind":"file","name":"s","owner":"a","path":"p","sha256":null}\n',
    b'{"host":"github.com","kind":"repository","name":"s","owner":"a","sha256":"'
    + SHA.encode() + b'"}\n',  # sha256 on a repository rule
    b'{"kind":"content","swhid":"swh:1:dir:' + b"0" * 40 + b'"}\n',  # not a content id
    b'{"kind":"content","swhid":"' + b"0" * 40 + b'"}\n',  # a bare SHA-1
    b'{"kind":"content","swhid":"swh:1:cnt:' + b"A" * 40 + b'"}\n',  # upper-case hex
    b'{"host":"github.com","kind":"content","swhid":"swh:1:cnt:' + b"0" * 40 + b'"}\n',
    b'{"host":"github.com","kind":"owner","owner":"b"}\n' + GOOD,  # not sorted
    GOOD + GOOD,  # duplicate line
    GOOD + b'{"host":"github.com","kind":"owner","owner":"b"}',  # last line without newline
    b'{"host":"github.com","kind":"owner","owner":"a"}{"host":"x","kind":"owner","owner":"b"}\n',
    b'[{"host":"github.com","kind":"owner","owner":"a"}]\n',  # not an object
    b'"owner"\n',
    b"{}\n",
    b'{"host":"github.com","kind":"owner","owner":"a"\n',  # cut short
]
BAD_HASHED = [
    b'{"h":"' + HASH.upper().encode() + b'","kind":"owner"}\n',  # upper-case hex
    b'{"h":"' + HASH[:-1].encode() + b'","kind":"owner"}\n',  # 63 digits
    b'{"h":"' + HASH.encode() + b'","kind":"user"}\n',  # unknown kind
    b'{"h":"' + HASH.encode() + b'","kind":"owner","x":"y"}\n',  # a key too many
    b'{"h":"' + HASH.encode() + b'"}\n',  # no kind
    b'{"h":1,"kind":"owner"}\n',  # not a string
    b'{"kind":"owner","h":"' + HASH.encode() + b'"}\n',  # keys not sorted
    GOOD,  # a plain rule in a hashed list
    b'{"h":"' + HASH.encode() + b'","kind":"owner"}\n{"h":"' + HASH.encode()
    + b'","kind":"file"}\n{"h":"' + HASH.encode() + b'","kind":"content"}\n',  # not sorted
]


@pytest.mark.parametrize(("body", "hashed"), [(b, False) for b in BAD_PLAIN]
                         + [(b, True) for b in BAD_HASHED])
def test_bad_bodies_are_refused_with_parse_bodys_line_and_reason(body, hashed):
    with pytest.raises(RuleError) as strict:
        parse_body(body, hashed=hashed)
    assert fast_rules(body, hashed=hashed) is None
    with pytest.raises(RuleError) as fast:
        load_rules(body, hashed=hashed)
    with pytest.raises(RuleError) as matcher:
        Matcher(body, SALT if hashed else None)
    assert str(fast.value) == str(matcher.value) == str(strict.value)
    assert str(strict.value).startswith("line ") or "newline" in str(strict.value)


def test_a_bad_line_deep_in_a_long_body_is_named():
    rules = [file_rule("github.com", "o", "r", f"p{i:05}") for i in range(3000)]
    lines = build_body(rules).split(b"\n")
    lines[2500] = lines[2500].replace(b'02500"', b'02500/"')  # still sorted
    with pytest.raises(RuleError, match="^line 2501: path 'p02500/' must be relative"):
        Matcher(b"\n".join(lines))


def test_bodies_that_are_not_bytes_are_refused_as_before():
    for body in ("text", bytearray(GOOD), None):
        with pytest.raises(RuleError, match="a body is bytes"):
            load_rules(body)  # type: ignore[arg-type]


def test_empty_body_is_an_empty_list_in_either_mode():
    for salt in (None, new_salt()):
        matcher = Matcher(b"", salt)
        assert len(matcher) == 0 and list(matcher.rules) == [] and matcher.kinds == frozenset()
        assert matcher.excluded("github.com", "a", "b") is None


def test_rule_list_reads_rules_on_demand_and_pickles_small():
    rules = [owner_rule("github.com", "a"), file_rule("github.com", "b", "c", "d.py", SHA),
             content_rule("e" * 40)]
    body = build_body(rules)
    listed = Matcher(body).rules
    expected = parse_body(body)
    assert [listed[i] for i in range(3)] == expected and listed[-1] == expected[-1]
    assert listed[1:] == expected[1:] and listed.take([2, 0]) == [expected[2], expected[0]]
    assert listed == expected and len(listed) == 3
    with pytest.raises(IndexError):
        listed[3]
    copied = pickle.loads(pickle.dumps(listed))  # noqa: S301 (our own bytes)
    assert copied._all is None and copied._read == {} and list(copied) == expected
    hashed = build_body(rules, salt=SALT)
    assert list(Matcher(hashed, SALT).rules) == parse_body(hashed, hashed=True)
