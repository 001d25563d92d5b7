"""What the reviewers' queue needs beyond the list: counts per state and catalog coverage."""

from __future__ import annotations

import io
import json

import pytest

from server.workflows import catalog
from shared import states
from shared.client import ApiClientError


@pytest.fixture
def reviewer(api, factory):
    return api(factory.user(states.REVIEWER)[1])


def test_counts_list_every_state_and_follow_the_other_filters(reviewer, factory):
    factory.request("repository", states.RECEIVED)
    factory.request("repository", states.VERIFIED, name="two")
    factory.request("owner", states.VERIFIED)
    factory.request("file", states.APPROVED)
    factory.request("license", states.NEEDS_INFO)

    every = reviewer.request_counts()
    assert set(every["counts"]) == set(states.STATES)
    assert every["counts"][states.VERIFIED] == 2
    assert every["counts"][states.REJECTED] == 0
    assert every["total"] == 5

    repositories = reviewer.request_counts(kind=["repository"])
    assert repositories["counts"][states.VERIFIED] == 1
    assert repositories["counts"][states.RECEIVED] == 1
    assert repositories["total"] == 2
    assert reviewer.request_counts(host="gitlab.com")["counts"][states.APPROVED] == 1
    assert reviewer.request_counts(q="forgejo")["total"] == 1
    assert reviewer.request_counts(min_age_days=1)["total"] == 0
    # The counts agree with the list under the same filters.
    listed = reviewer.list_requests(kind=["repository"], state=[states.VERIFIED])
    assert listed["total"] == repositories["counts"][states.VERIFIED]


@pytest.mark.parametrize(
    "params",
    [{"state": "approved"}, {"page": "2"}, {"kind": "nothing"}, {"host": "local host"},
     {"min_age_days": "-1"}],
)
def test_counts_refuse_bad_parameters(reviewer, params):
    with pytest.raises(ApiClientError) as caught:
        reviewer._call("GET", "/requests/counts", params=params)
    assert caught.value.status == 422


def test_coverage_names_the_releases_of_the_scope(reviewer, factory):
    lines = [
        {"host": "github.com", "owner": "octocat", "name": "hello", "release": "v1", "files": 3},
        {"host": "github.com", "owner": "octocat", "name": "other", "release": "v1", "files": 5},
        {"host": "github.com", "owner": "octocat", "name": "hello", "release": "v2", "files": 4},
    ]
    catalog.load_catalog(io.BytesIO("\n".join(json.dumps(x) for x in lines).encode()))
    repo, _ = factory.request("repository", states.VERIFIED)
    account, _ = factory.request("owner", states.RECEIVED, owner="octocat")
    elsewhere, _ = factory.request("owner", states.RECEIVED, owner="nobody")

    covered = reviewer.request_coverage(repo.id)
    assert [(r["name"], r["files"]) for r in covered["releases"]] == [("v2", 4), ("v1", 3)]
    assert repo.id in [r["id"] for r in covered["requests"]]
    whole = reviewer.request_coverage(account.id)
    assert {r["name"]: r["repository_count"] for r in whole["releases"]} == {"v1": 2, "v2": 1}
    assert reviewer.request_coverage(elsewhere.id)["releases"] == []
    with pytest.raises(ApiClientError) as caught:
        reviewer.request_coverage(999_999)
    assert (caught.value.status, caught.value.code) == (404, "not_found")
