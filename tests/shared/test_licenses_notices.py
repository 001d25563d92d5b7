"""Short notices: the phrasings full-text matchers miss."""

from __future__ import annotations

import pytest

from shared.licenses.notices import find_notice, license_names

RUST_BOILERPLATE = """## License

Licensed under either of

 * Apache License, Version 2.0, ([LICENSE-APACHE](LICENSE-APACHE) or http://www.apache.org/licenses/LICENSE-2.0)
 * MIT license ([LICENSE-MIT](LICENSE-MIT) or http://opensource.org/licenses/MIT)

at your option.
"""


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        (RUST_BOILERPLATE, "Apache-2.0 OR MIT"),
        ("licensed under either of MIT or Apache-2.0", "MIT OR Apache-2.0"),
        ('Licensed under the Apache License, Version 2.0 (the "License");', "Apache-2.0"),
        ("This project is licensed under the terms of the MIT license.", "MIT"),
        ("Released under the MIT License.", "MIT"),
        ("MIT licensed.", "MIT"),
        (
            "This program is free software; you can redistribute it and/or modify it under the "
            "terms of the GNU General Public License as published by the Free Software "
            "Foundation; either version 2 of the License, or (at your option) any later version.",
            "GPL-2.0-or-later",
        ),
        ("Distributed under the GNU GPL v3.", "GPL-3.0-only"),
        ("Released under the GNU Lesser General Public License v3.0 or later", "LGPL-3.0-or-later"),
        ("Dual licensed under the MIT and GPL licenses.", "MIT OR GPL-1.0-or-later"),
        (
            "The code is available under the BSD 3-clause license and the MIT license.",
            "BSD-3-Clause AND MIT",
        ),
        ("Distributed under the Boost Software License, Version 1.0.", "BSL-1.0"),
        ("This work is released into the public domain.", "LicenseRef-scancode-public-domain"),
        ("Licensed under the Mozilla Public License, v. 2.0.", "MPL-2.0"),
        ("License: ISC", "ISC"),
        ("Licensed under the GNU General Public License (GPL), version 3", "GPL-3.0-only"),
    ],
)
def test_notice_phrasings(text, expression):
    notice = find_notice(text)
    assert notice is not None
    assert notice.expression == expression
    assert 0 < notice.score <= 1


def test_bare_names_only_in_readme_sections():
    assert find_notice("MIT © Jane Doe") is None
    assert find_notice("MIT © Jane Doe", bare_names=True).expression == "MIT"


@pytest.mark.parametrize(
    "text",
    [
        "This is a library for submitting forms.",  # "mit" inside a word
        "Permission is hereby granted, subject to the following conditions:",
        "",
    ],
)
def test_no_notice_where_there_is_none(text):
    assert find_notice(text) is None


def test_license_names_prefer_the_longest_name():
    assert license_names("MIT-0 license") == ["MIT-0"]
    assert license_names("GNU General Public License (GPL) version 2") == ["GPL-2.0-only"]
