"""scan_files: files held in memory give the ScanResult a checkout of the same files gives."""

from __future__ import annotations

import pytest

from shared.licenses import (
    NON_PERMISSIVE,
    PERMISSIVE,
    Policy,
    default_matcher,
    scan_files,
    scan_repository,
)
from tests.shared.test_licenses_scan import installed_license, write

GPL_NOTICE = (
    "This program is free software: you can redistribute it and/or modify it under the "
    "terms of the GNU General Public License as published by the Free Software "
    "Foundation, either version 3 of the License, or (at your option) any later version.\n"
)


@pytest.fixture(scope="module")
def tree() -> dict[str, bytes]:
    mit, bsd = installed_license("peewee"), installed_license("click", "LICENSE.txt")
    files: dict[str, str | bytes] = {
        "LICENSE": mit,
        "README.md": "# thing\n\n## License\n\nMIT, see LICENSE.\n",
        "z.py": "# SPDX-License-Identifier: Apache-2.0\nx = 1\n",
        "src/a.py": "print(1)\n",
        "src/deep/b.c": "/* SPDX-License-Identifier: MIT */\n",
        "vendor/gplthing/COPYING": GPL_NOTICE,
        "vendor/gplthing/lib.c": "int x;\n",
        "third_party/bsd/LICENSE.txt": bsd,
        "node_modules/left-pad/package.json": '{"name": "left-pad", "license": "WTFPL"}',
        "dual/Cargo.toml": '[package]\nname = "d"\nlicense = "MIT OR Apache-2.0"\n',
        "dual/LICENSE": "Licensed under either of LICENSE-MIT or LICENSE-APACHE.\n",
        "dual/LICENSE-MIT": mit,
        "dual/LICENSE-APACHE": installed_license("msgpack", "COPYING"),
        "reuse/LICENSES/MPL-2.0.txt": installed_license("certifi"),
        "reuse/x.py": "x = 2\n",
        "logo.png": b"\x89PNG\r\n\x1a\n\x00\x01",
        "blob.dat": b"SPDX-License-Identifier: GPL-3.0-only\x00\x01\x02",
        "latin/LICENSE": ("Copyright \u00a9 M\u00fcller\n\n" + mit).encode("latin-1"),
        "__pycache__/LICENSE": GPL_NOTICE,  # skipped, as a walk skips the directory
        "a/.git/COPYING": GPL_NOTICE,
    }
    return {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}


@pytest.mark.parametrize("max_files", [None, 100, 13, 4, 1])
def test_equals_the_scan_of_a_checkout_of_the_same_files(tmp_path, tree, max_files):
    write(tmp_path, tree)
    on_disk = scan_repository(tmp_path, max_files=max_files or 100)
    in_memory = scan_files(tree, max_files=max_files)
    assert in_memory == on_disk
    assert in_memory.truncated == (max_files is not None and max_files < 18)
    if max_files is None:
        assert in_memory.declared == "MIT" and in_memory.verdict == PERMISSIVE
        assert in_memory.verdict_for("vendor/gplthing/lib.c") == NON_PERMISSIVE
        assert {s.path for s in in_memory.scopes} == {
            "", "vendor/gplthing", "third_party/bsd", "node_modules/left-pad", "dual", "reuse",
            "latin"}
        assert in_memory.skipped == {"binary": 2}


def test_the_policy_judges_the_scopes(tree):
    strict = Policy(name="strict", version="1", admit_no_license=False)
    result = scan_files({"x.py": b"x = 1\n"}, strict)
    assert (result.declared, result.admitted, result.policy) == (None, False, strict)


class CountingMatcher:
    """The real matcher, counting the texts it is asked to identify."""

    def __init__(self) -> None:
        self.inner = default_matcher()
        self.name, self.version = self.inner.name, self.inner.version
        self.calls = 0

    def identify(self, text, threshold):
        self.calls += 1
        return self.inner.identify(text, threshold)

    def match(self, text):
        return self.inner.match(text)


def test_files_with_a_known_id_are_read_once_across_scans(tree):
    matcher, cache = CountingMatcher(), {}
    ids = {path: f"id-{len(data)}-{data[:20]!r}" for path, data in tree.items()}
    first = scan_files(tree, matcher=matcher, ids=ids, cache=cache)
    calls = matcher.calls
    assert calls > 0 and cache
    moved = {f"copy/{path}": data for path, data in tree.items()}
    second = scan_files(moved, matcher=matcher, ids={f"copy/{p}": i for p, i in ids.items()},
                        cache=cache)
    assert matcher.calls == calls  # every text came from the cache
    assert [e.path for e in second.evidence] == [f"copy/{e.path}" for e in first.evidence]
    assert second.scope_for("copy/vendor/gplthing/lib.c").verdict == NON_PERMISSIVE
    assert scan_files(moved, matcher=matcher).evidence == second.evidence  # uncached: same


@pytest.mark.parametrize("path", ["", "/etc/LICENSE", "a//b", "./LICENSE", "a/../LICENSE",
                                  "a/", "x\x00y"])
def test_paths_that_no_checkout_can_hold_are_refused(path):
    with pytest.raises(ValueError, match="not a relative file path"):
        scan_files({"LICENSE": b"MIT", path: b"x"})
