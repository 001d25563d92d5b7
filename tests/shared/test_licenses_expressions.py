"""SPDX expressions: strict parsing, repairs of common spellings, and combination."""

from __future__ import annotations

import pytest

from shared.licenses.expressions import combine, license_keys, normalize, sanitize_ref


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("MIT", "MIT"),
        ("mit", "MIT"),
        ("MIT OR GPL-3.0-only", "MIT OR GPL-3.0-only"),
        ("Apache-2.0 WITH LLVM-exception", "Apache-2.0 WITH LLVM-exception"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "GPL-2.0-only WITH Classpath-exception-2.0"),
        # deprecated ids become the current ones
        ("GPL-2.0+", "GPL-2.0-or-later"),
        ("GPL-2.0", "GPL-2.0-only"),
        ("LGPL-2.1+", "LGPL-2.1-or-later"),
        ("AGPL-3.0", "AGPL-3.0-only"),
        ("GPL-2.0-with-classpath-exception", "GPL-2.0-only WITH Classpath-exception-2.0"),
        ("StandardML-NJ", "SMLNJ"),
        # dedup keeps the OR branch that simplify() would drop
        ("MIT AND (Apache-2.0 OR MIT)", "MIT AND (Apache-2.0 OR MIT)"),
        ("MIT AND MIT", "MIT"),
        # spellings seen in manifests
        ("MIT/Apache-2.0", "MIT OR Apache-2.0"),
        ("MIT or Apache 2.0", "MIT OR Apache-2.0"),
        ("Apache License, Version 2.0", "Apache-2.0"),
        ("The MIT License", "MIT"),
        ("GPLv3+", "GPL-3.0-or-later"),
        ("Apache-2.0 OR MIT AND BSD-3-Clause", "Apache-2.0 OR (MIT AND BSD-3-Clause)"),
    ],
)
def test_normalize_gives_strict_spdx(raw, expected):
    assert normalize(raw).expression == expected
    assert normalize(raw).unknown == ()


@pytest.mark.parametrize(
    ("raw", "expected", "unknown"),
    [
        ("Foo-Bar", "LicenseRef-Foo-Bar", ("Foo-Bar",)),
        ("BSD", "LicenseRef-BSD", ("BSD",)),
        ("MIT AND My License!", "LicenseRef-MIT-AND-My-License", ("MIT AND My License!",)),
        ("MIT OR Proprietary", "MIT OR LicenseRef-Proprietary", ("Proprietary",)),
        ("UNLICENSED", "LicenseRef-UNLICENSED", ("UNLICENSED",)),
        # an exception nobody knows changes the terms in an unknown way
        ("MIT WITH Foo-exception", "LicenseRef-MIT-with-Foo-exception", ("Foo-exception",)),
    ],
)
def test_unknown_ids_become_licenserefs_and_are_reported(raw, expected, unknown):
    result = normalize(raw)
    assert result.expression == expected
    assert result.unknown == unknown


def test_user_licenserefs_are_kept_as_given():
    assert normalize("LicenseRef-acme-1.0 OR MIT").expression == "LicenseRef-acme-1.0 OR MIT"


def test_empty_expression_is_refused():
    with pytest.raises(ValueError):
        normalize("   ")


def test_sanitize_ref_makes_a_valid_idstring():
    assert sanitize_ref("LicenseRef-LicenseRef-a b/c") == "LicenseRef-a-b-c"
    assert sanitize_ref("???") == "LicenseRef-unknown"
    assert len(sanitize_ref("x" * 500)) <= len("LicenseRef-") + 64


def test_combine_dedups_without_simplifying():
    assert combine(["MIT", "Apache-2.0 OR MIT", "MIT"]) == "MIT AND (Apache-2.0 OR MIT)"
    assert combine(["MIT", "Apache-2.0"], "OR") == "MIT OR Apache-2.0"
    assert combine([]) is None
    assert combine(["GPL-2.0-or-later"]) == "GPL-2.0-or-later"


def test_license_keys_lists_licenses_and_exceptions():
    assert license_keys("Apache-2.0 WITH LLVM-exception OR MIT") == [
        "Apache-2.0",
        "LLVM-exception",
        "MIT",
    ]
