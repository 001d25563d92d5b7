"""Table-driven test of the scope parser on what owners really paste, hostile input included."""

from __future__ import annotations

import pytest

from shared.scope_parser import parse_one, parse_scopes

R, OW, F, L = "repository", "owner", "file", "license"

# (input, chosen kind or None, expected (kind, host, owner, name, path, line))
GOOD = [
    ("https://github.com/Foo/Bar.git", None, (R, "github.com", "Foo", "Bar", None, None)),
    ("https://github.com/Foo/Bar", None, (R, "github.com", "Foo", "Bar", None, None)),
    ("http://github.com/foo/bar", None, (R, "github.com", "foo", "bar", None, None)),
    ("github.com/foo/bar", None, (R, "github.com", "foo", "bar", None, None)),
    ("GitHub.COM/foo/bar", None, (R, "github.com", "foo", "bar", None, None)),
    ("github.com/foo/bar/", None, (R, "github.com", "foo", "bar", None, None)),
    ("https://github.com/foo/bar/", None, (R, "github.com", "foo", "bar", None, None)),
    ("https://github.com/foo/bar.git/", None, (R, "github.com", "foo", "bar", None, None)),
    ("  https://github.com/foo/bar  ", None, (R, "github.com", "foo", "bar", None, None)),
    ("<https://github.com/foo/bar>", None, (R, "github.com", "foo", "bar", None, None)),
    ("'github.com/foo/bar'", None, (R, "github.com", "foo", "bar", None, None)),
    ("https://www.github.com/foo/bar", None, (R, "github.com", "foo", "bar", None, None)),
    ("https://github.com:443/foo/bar", None, (R, "github.com", "foo", "bar", None, None)),
    (
        "https://github.com/foo/bar?tab=readme-ov-file",
        None,
        (R, "github.com", "foo", "bar", None, None),
    ),
    ("https://github.com/foo/bar#readme", None, (R, "github.com", "foo", "bar", None, None)),
    ("github.com/foo/bar?x=1#y", None, (R, "github.com", "foo", "bar", None, None)),
    ("foo/bar", None, (R, "github.com", "foo", "bar", None, None)),
    ("foo/bar.git", None, (R, "github.com", "foo", "bar", None, None)),
    ("Foo-Org/my.repo_name", None, (R, "github.com", "Foo-Org", "my.repo_name", None, None)),
    ("git@github.com:Foo/Bar.git", None, (R, "github.com", "Foo", "Bar", None, None)),
    ("git@gitlab.com:group/sub/proj.git", None, (R, "gitlab.com", "group/sub", "proj", None, None)),
    ("github.com:foo/bar", None, (R, "github.com", "foo", "bar", None, None)),
    ("ssh://git@github.com/foo/bar.git", None, (R, "github.com", "foo", "bar", None, None)),
    (
        "ssh://git@gitlab.com:2222/group/proj.git",
        None,
        (R, "gitlab.com", "group", "proj", None, None),
    ),
    ("git://github.com/foo/bar.git", None, (R, "github.com", "foo", "bar", None, None)),
    ("git+ssh://git@github.com/foo/bar", None, (R, "github.com", "foo", "bar", None, None)),
    ("gitlab.com/group/sub/project", None, (R, "gitlab.com", "group/sub", "project", None, None)),
    ("https://gitlab.com/a/b/c/d", None, (R, "gitlab.com", "a/b/c", "d", None, None)),
    ("https://gitlab.com/g/p/-/tree/main", None, (R, "gitlab.com", "g", "p", None, None)),
    ("https://gitlab.com/g/s/p/-/issues/4", None, (R, "gitlab.com", "g/s", "p", None, None)),
    ("https://gitlab.com/g/s/p/-/merge_requests", None, (R, "gitlab.com", "g/s", "p", None, None)),
    ("https://gitlab.com/g/s/p/-/", None, (R, "gitlab.com", "g/s", "p", None, None)),
    ("https://github.com/foo/bar/tree/main", None, (R, "github.com", "foo", "bar", None, None)),
    ("https://github.com/foo/bar/issues/12", None, (R, "github.com", "foo", "bar", None, None)),
    ("https://github.com/foo/bar/pulls", None, (R, "github.com", "foo", "bar", None, None)),
    (
        "https://github.com/foo/bar/releases/tag/v1",
        None,
        (R, "github.com", "foo", "bar", None, None),
    ),
    (
        "https://codeberg.org/forgejo/forgejo",
        None,
        (R, "codeberg.org", "forgejo", "forgejo", None, None),
    ),
    (
        "https://bitbucket.org/team/repo/src/master/a.py",
        None,
        (F, "bitbucket.org", "team", "repo", "a.py", None),
    ),
    ("https://github.com/foo", None, (OW, "github.com", "foo", None, None, None)),
    ("https://github.com/foo/", None, (OW, "github.com", "foo", None, None, None)),
    ("github.com/foo", None, (OW, "github.com", "foo", None, None, None)),
    ("foo", None, (OW, "github.com", "foo", None, None, None)),
    ("foo", OW, (OW, "github.com", "foo", None, None, None)),
    ("https://gitlab.com/group/sub", OW, (OW, "gitlab.com", "group/sub", None, None, None)),
    ("https://github.com/foo/bar", L, (L, "github.com", "foo", "bar", None, None)),
    ("foo/bar", L, (L, "github.com", "foo", "bar", None, None)),
    (
        "https://github.com/foo/bar/blob/main/src/x.py",
        None,
        (F, "github.com", "foo", "bar", "src/x.py", None),
    ),
    (
        "https://github.com/foo/bar/blob/main/src/x.py#L12",
        None,
        (F, "github.com", "foo", "bar", "src/x.py", 12),
    ),
    (
        "https://github.com/foo/bar/blob/main/src/x.py#L12-L20",
        F,
        (F, "github.com", "foo", "bar", "src/x.py", 12),
    ),
    (
        "https://github.com/foo/bar/blob/0123abcd/README.md",
        F,
        (F, "github.com", "foo", "bar", "README.md", None),
    ),
    (
        "https://github.com/foo/bar/raw/main/data/keys.json",
        F,
        (F, "github.com", "foo", "bar", "data/keys.json", None),
    ),
    (
        "https://github.com/foo/bar/blob/main/dir%20with%20space/a.txt",
        F,
        (F, "github.com", "foo", "bar", "dir with space/a.txt", None),
    ),
    (
        "https://raw.githubusercontent.com/foo/bar/main/config/.env",
        F,
        (F, "github.com", "foo", "bar", "config/.env", None),
    ),
    (
        "https://gitlab.com/g/s/p/-/blob/main/a/b.py",
        F,
        (F, "gitlab.com", "g/s", "p", "a/b.py", None),
    ),
    ("https://gitlab.com/g/p/blob/main/a.py", F, (F, "gitlab.com", "g", "p", "a.py", None)),
    (
        "https://salsa.debian.org/python-team/packages/foo",
        None,
        (R, "salsa.debian.org", "python-team/packages", "foo", None, None),
    ),
]

# (input, chosen kind or None, expected error code)
BAD = [
    ("javascript:alert(1)", None, "unsupported_scheme"),
    ("JavaScript:alert(document.cookie)", None, "unsupported_scheme"),
    ("data:text/html,<script>alert(1)</script>", None, "unsupported_scheme"),
    ("file:///etc/passwd", None, "unsupported_scheme"),
    ("ftp://github.com/foo/bar", None, "unsupported_scheme"),
    ("mailto:owner@example.com", None, "unsupported_scheme"),
    ("http://[::1/x", None, "invalid_url"),  # urllib raises ValueError on these
    ("https://[zz]/foo/bar", None, "invalid_url"),
    ("https://github.com/foo/../bar", None, "invalid_path"),
    ("github.com/../../etc/passwd", None, "invalid_path"),
    ("https://github.com/foo/bar/blob/main/../../x", F, "invalid_path"),
    ("https://github.com/foo/bar/blob/main/a/%2e%2e/b", F, "invalid_path"),
    ("https://gіthub.com/foo/bar", None, "non_ascii"),  # Cyrillic i
    ("https://github.com/fοo/bar", None, "non_ascii"),  # Greek omicron
    ("ｇｉｔｈｕｂ.com/foo/bar", None, "non_ascii"),  # full-width
    ("github.com/foo\x00/bar", None, "control_characters"),
    ("github.com/foo/bar\x1b[31m", None, "control_characters"),
    ("github.com/foo/\u202ebar", None, "invalid_name"),  # bidi override stripped, ok -> see below
    ("https://github.com/" + "a" * 10_000, None, "line_too_long"),
    ("https://user:secret@github.com/a/b", None, "credentials_in_url"),
    ("github.com", None, "host_only"),
    ("https://github.com/", None, "no_account"),
    ("https://github.com/a/b/c", None, "unexpected_path"),
    ("https://github.com/foo/bar/tree/main/docs", None, "directory_address"),
    ("https://github.com/foo/bar/blob/main", F, "incomplete_address"),
    ("https://raw.githubusercontent.com/foo/bar", F, "incomplete_address"),
    ("https://github.com/foo/bar", OW, "would_widen"),
    ("https://github.com/foo/bar/blob/main/x.py", OW, "would_widen"),
    ("https://github.com/foo/bar/blob/main/x.py", R, "kind_mismatch"),
    ("https://github.com/foo", R, "kind_mismatch"),
    ("https://github.com/foo/bar", F, "kind_mismatch"),
    ("foo bar/baz", None, "invalid_owner"),
    ("foo/bar baz", None, "invalid_name"),
    ("https://localhost/foo/bar", None, "invalid_host"),
    ("http://127.0.0.1/foo/bar", None, "invalid_host"),
    ("-foo/bar", None, "invalid_owner"),
    ("foo/<script>", None, "invalid_name"),
]


@pytest.mark.parametrize(("text", "kind", "expected"), GOOD, ids=[g[0][:60] for g in GOOD])
def test_parses(text, kind, expected):
    scope, _note = parse_one(text, kind)
    assert (scope.kind, scope.host, scope.owner, scope.name, scope.path, scope.line) == expected


BAD_CASES = [b for b in BAD if b[2] != "invalid_name" or "\u202e" not in b[0]]


@pytest.mark.parametrize(("text", "kind", "code"), BAD_CASES, ids=[b[0][:40] for b in BAD_CASES])
def test_refuses_with_a_reason(text, kind, code):
    from shared.scope import ScopeError

    with pytest.raises(ScopeError) as caught:
        parse_one(text, kind)
    assert caught.value.code == code
    assert caught.value.message


def test_bidi_and_zero_width_characters_are_stripped_not_trusted():
    scope, _ = parse_one("github.com/foo/\u202ebar\u200b")
    assert (scope.owner, scope.name) == ("foo", "bar")


def test_the_table_is_large_enough():
    assert len(GOOD) + len(BAD) >= 60


def test_several_per_line_with_errors_named_by_line():
    text = "github.com/a/b\n\n  \nnot a repo!\ngitlab.com/g/p\n"
    results = parse_scopes(text, default_host="github.com")
    assert [r.number for r in results] == [1, 4, 5]
    assert results[0].scope.name == "b" and results[2].scope.host == "gitlab.com"
    assert results[1].error is not None and results[1].scope is None


def test_bare_names_take_the_chosen_host():
    scope, _ = parse_one("group/proj", None, default_host="GitLab.com")
    assert (scope.host, scope.owner, scope.name) == ("gitlab.com", "group", "proj")


def test_nested_reading_is_explained():
    _scope, note = parse_one("gitlab.com/group/sub/project")
    assert "group/sub" in note and "whole account" in note


def test_too_many_lines():
    from shared.scope import ScopeError

    with pytest.raises(ScopeError) as caught:
        parse_scopes("\n".join(f"o/r{i}" for i in range(101)))
    assert caught.value.code == "too_many_lines"
