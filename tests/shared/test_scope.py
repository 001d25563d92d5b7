import pytest

from shared.scope import ScopeError, build_scope, check_path, normalize_host


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("GitHub.com", "github.com"),
        (" gitlab.com. ", "gitlab.com"),
        ("git.sr.ht", "git.sr.ht"),
    ],
)
def test_hosts_are_lower_cased(raw, host):
    assert normalize_host(raw) == host


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "localhost",
        "-a.com",
        "a..com",
        "exa mple.com",
        "a" * 254,
        "http://github.com",
        "github.com/x",
    ],
)
def test_bad_hosts(raw):
    with pytest.raises(ScopeError) as caught:
        normalize_host(raw)
    assert caught.value.code == "invalid_host"


@pytest.mark.parametrize("raw", ["../x", "/abs", "a//b", "a/./b", "a\\b", "a\x00b", "", "x" * 1025])
def test_bad_paths(raw):
    with pytest.raises(ScopeError):
        check_path(raw)


def test_repository_name_drops_dot_git_and_owner_keeps_groups():
    scope = build_scope(
        "repository", {"host": "GitLab.com", "owner": "grp/sub", "name": "proj.git"}
    )
    assert (scope.host, scope.owner, scope.name) == ("gitlab.com", "grp/sub", "proj")
    assert scope.describe() == "the repository gitlab.com/grp/sub/proj"


def test_owner_scope_describes_future_repositories():
    scope = build_scope("owner", {"host": "github.com", "owner": "octo"})
    assert "current and future" in scope.describe()


@pytest.mark.parametrize(
    ("kind", "fields", "code"),
    [
        ("org", {"host": "github.com", "owner": "a"}, "invalid_kind"),
        ("file", {"host": "github.com", "owner": "a", "name": "b"}, "missing_field"),
        (
            "repository",
            {"host": "github.com", "owner": "a", "name": "b", "line": 3},
            "field_not_allowed",
        ),
        (
            "file",
            {"host": "github.com", "owner": "a", "name": "b", "path": "p", "line": 0},
            "invalid_line",
        ),
        (
            "file",
            {"host": "github.com", "owner": "a", "name": "b", "path": "p", "line": True},
            "invalid_line",
        ),
    ],
)
def test_build_scope_refusals(kind, fields, code):
    with pytest.raises(ScopeError) as caught:
        build_scope(kind, fields)
    assert caught.value.code == code
