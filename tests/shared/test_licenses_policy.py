"""Verdicts under a named, versioned policy."""

from __future__ import annotations

import pytest

from shared.licenses.policy import (
    DEFAULT_POLICY,
    NO_LICENSE,
    NON_PERMISSIVE,
    PERMISSIVE,
    UNKNOWN,
    Policy,
    blue_oak_ids,
    blue_oak_list,
    scancode_categories,
)


@pytest.mark.parametrize(
    ("expression", "verdict"),
    [
        ("MIT", PERMISSIVE),
        ("Apache-2.0", PERMISSIVE),
        ("BSD-3-Clause", PERMISSIVE),
        ("CC0-1.0", PERMISSIVE),  # ScanCode: Public Domain
        ("Unlicense", PERMISSIVE),
        ("GPL-3.0-only", NON_PERMISSIVE),
        ("GPL-2.0-or-later", NON_PERMISSIVE),
        ("MPL-2.0", NON_PERMISSIVE),
        ("CC-BY-NC-4.0", NON_PERMISSIVE),
        ("SSPL-1.0", NON_PERMISSIVE),
        # OR passes if any branch passes
        ("MIT OR GPL-3.0-only", PERMISSIVE),
        ("GPL-3.0-only OR AGPL-3.0-only", NON_PERMISSIVE),
        # AND passes only if all do
        ("MIT AND GPL-2.0-only", NON_PERMISSIVE),
        ("MIT AND (Apache-2.0 OR MIT)", PERMISSIVE),
        ("MIT AND (GPL-2.0-only OR Apache-2.0)", PERMISSIVE),
        # WITH is judged with its license
        ("Apache-2.0 WITH LLVM-exception", PERMISSIVE),
        ("GPL-2.0-only WITH Classpath-exception-2.0", NON_PERMISSIVE),
        ("Apache-2.0 WITH LLVM-exception OR GPL-2.0-only", PERMISSIVE),
        # LicenseRef-* is unknown, and unknown wins over permissive in AND, not in OR
        ("LicenseRef-acme", UNKNOWN),
        ("MIT AND LicenseRef-acme", UNKNOWN),
        ("MIT OR LicenseRef-acme", PERMISSIVE),
        ("GPL-2.0-only OR LicenseRef-acme", UNKNOWN),
        ("GPL-2.0-only AND LicenseRef-acme", NON_PERMISSIVE),
        # ScanCode's own refs are judged by its category
        ("LicenseRef-scancode-public-domain", PERMISSIVE),
        ("LicenseRef-scancode-unknown-license-reference", UNKNOWN),
        (None, NO_LICENSE),
        ("", NO_LICENSE),
        ("((", UNKNOWN),
    ],
)
def test_default_policy_verdicts(expression, verdict):
    assert DEFAULT_POLICY.judge(expression) == verdict


def test_default_policy_is_named_and_versioned():
    data = DEFAULT_POLICY.to_json()
    assert data["name"] == "optout-default"
    assert data["version"] == "1"
    assert data["admit_no_license"] is True
    assert "Lead" in data["blue_oak_tiers"]


def test_admission_of_no_license_and_unknown_is_a_setting():
    assert DEFAULT_POLICY.admits(NO_LICENSE)
    assert not DEFAULT_POLICY.admits(UNKNOWN)
    assert not DEFAULT_POLICY.admits(NON_PERMISSIVE)
    strict = Policy(name="strict", version="1", admit_no_license=False)
    assert not strict.admits(NO_LICENSE)
    assert strict.admits(PERMISSIVE)


def test_allow_and_deny_lists_override_the_data():
    policy = Policy(name="custom", version="2", allow=("MPL-2.0",), deny=("WTFPL",))
    assert policy.judge("MPL-2.0") == PERMISSIVE
    assert policy.judge("WTFPL") == NON_PERMISSIVE
    assert DEFAULT_POLICY.judge("WTFPL") == PERMISSIVE


def test_blue_oak_tiers_can_be_narrowed():
    blue_oak_only = Policy(
        name="no-lead",
        version="1",
        blue_oak_tiers=("Model", "Gold", "Silver", "Bronze"),
        scancode_categories=(),
    )
    assert "WTFPL" in blue_oak_ids(["Lead"])
    assert DEFAULT_POLICY.judge("WTFPL") == PERMISSIVE
    assert blue_oak_only.judge("WTFPL") == NON_PERMISSIVE
    assert blue_oak_only.judge("MIT") == PERMISSIVE


def test_blue_oak_data_says_where_it_comes_from():
    data = blue_oak_list()
    assert data["package"] == "@blueoak/list" and data["retrieved"]
    assert {"MIT", "Apache-2.0", "BlueOak-1.0.0", "BSD-2-Clause-Patent"} <= blue_oak_ids()


def test_scancode_categories_come_from_the_license_expression_wheel():
    categories = scancode_categories()
    assert categories["MIT"] == "Permissive"
    assert categories["GPL-2.0-or-later"] == "Copyleft"
    assert categories["CC0-1.0"] == "Public Domain"
    assert len(categories) > 2000
