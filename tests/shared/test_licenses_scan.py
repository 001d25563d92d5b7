"""Scanning checkouts: scopes, vendored code, every kind of evidence, hostile files."""

from __future__ import annotations

import json
import os
from importlib import metadata

import pytest

from shared.licenses import (
    DEFAULT_POLICY,
    NO_LICENSE,
    NON_PERMISSIVE,
    PERMISSIVE,
    UNKNOWN,
    Policy,
    detect_text,
    scan_repository,
)


def installed_license(distribution: str, name: str = "LICENSE") -> str:
    for file in metadata.distribution(distribution).files or []:
        if file.name == name:
            return file.locate().read_text(encoding="utf-8")
    pytest.skip(f"{distribution} has no {name}")


@pytest.fixture(scope="module")
def texts():
    return {
        "MIT": installed_license("peewee"),
        "BSD-3-Clause": installed_license("click", "LICENSE.txt"),
        "Apache-2.0": installed_license("msgpack", "COPYING"),
        "MPL-2.0": installed_license("certifi"),
    }


def write(root, files: dict[str, str | bytes]):
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def test_empty_repository_has_no_license(tmp_path):
    result = scan_repository(tmp_path)
    assert result.declared is None
    assert result.verdict == NO_LICENSE
    assert result.admitted is True  # the default policy admits unlicensed code
    assert result.evidence == ()
    assert (
        Policy(name="strict", version="1", admit_no_license=False).admits(result.verdict) is False
    )


def test_a_bad_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        scan_repository(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        scan_repository(tmp_path / "file")


def test_root_license_file_is_declared(tmp_path, texts):
    write(tmp_path, {"LICENSE": "Copyright (c) 2021 Someone Else\n\n" + texts["MIT"]})
    result = scan_repository(tmp_path)
    assert result.declared == "MIT"
    assert result.verdict == PERMISSIVE
    (evidence,) = result.evidence
    assert evidence.path == "LICENSE" and evidence.detector == "askalono"
    assert evidence.score > 0.9


def test_vendored_license_is_scoped_to_its_subtree(tmp_path, texts):
    gpl_notice = (
        "This program is free software: you can redistribute it and/or modify it under the "
        "terms of the GNU General Public License as published by the Free Software "
        "Foundation, either version 3 of the License, or (at your option) any later version.\n"
    )
    write(
        tmp_path,
        {
            "LICENSE": texts["MIT"],
            "src/main.py": "print('hi')\n",
            "vendor/gplthing/COPYING": gpl_notice,
            "vendor/gplthing/lib.c": "int x;\n",
            "third_party/bsd/LICENSE.txt": texts["BSD-3-Clause"],
            "node_modules/left-pad/package.json": '{"name": "left-pad", "license": "WTFPL"}',
            "vendor/nolicense/x.c": "int y;\n",
        },
    )
    result = scan_repository(tmp_path)
    assert result.declared == "MIT"
    assert result.verdict == PERMISSIVE
    scopes = {s.path: s for s in result.scopes}
    assert set(scopes) == {"", "vendor/gplthing", "third_party/bsd", "node_modules/left-pad"}
    assert scopes["vendor/gplthing"].expression == "GPL-3.0-or-later"
    assert scopes["vendor/gplthing"].verdict == NON_PERMISSIVE
    assert scopes["vendor/gplthing"].vendored
    assert scopes["third_party/bsd"].expression == "BSD-3-Clause"
    assert result.verdict_for("vendor/gplthing/lib.c") == NON_PERMISSIVE
    assert result.verdict_for("vendor/nolicense/x.c") == PERMISSIVE  # inherits the root
    assert result.verdict_for("src/main.py") == PERMISSIVE
    assert result.scope_for("node_modules/left-pad/index.js").expression == "WTFPL"


def test_subdirectory_with_its_own_license_is_a_scope_even_if_not_vendored(tmp_path, texts):
    write(tmp_path, {"LICENSE": texts["Apache-2.0"], "docs/LICENSE": texts["MPL-2.0"]})
    result = scan_repository(tmp_path)
    assert result.declared == "Apache-2.0"
    docs = result.scope_for("docs/index.md")
    assert docs.path == "docs" and docs.expression == "MPL-2.0" and not docs.vendored


def test_rust_style_dual_license_takes_the_manifest_operator(tmp_path, texts):
    write(
        tmp_path,
        {
            "LICENSE-MIT": texts["MIT"],
            "LICENSE-APACHE": texts["Apache-2.0"],
            "Cargo.toml": '[package]\nname = "x"\nlicense = "MIT OR Apache-2.0"\n',
        },
    )
    result = scan_repository(tmp_path)
    assert result.declared == "MIT OR Apache-2.0"
    assert {e.path for e in result.evidence} == {"LICENSE-MIT", "LICENSE-APACHE", "Cargo.toml"}


def test_license_file_deferring_to_siblings(tmp_path, texts):
    write(
        tmp_path,
        {
            "LICENSE": "This software is made available under the terms of *either* of the "
            "licenses found in LICENSE.APACHE or LICENSE.BSD.\n",
            "LICENSE.APACHE": texts["Apache-2.0"],
            "LICENSE.BSD": texts["BSD-3-Clause"],
        },
    )
    assert scan_repository(tmp_path).declared == "Apache-2.0 OR BSD-3-Clause"


def test_conflicting_declarations_are_all_kept(tmp_path, texts):
    write(tmp_path, {"LICENSE": texts["MPL-2.0"], "package.json": '{"license": "MIT"}'})
    result = scan_repository(tmp_path)
    assert result.declared == "MIT AND MPL-2.0"
    assert result.verdict == NON_PERMISSIVE


@pytest.mark.parametrize(
    ("files", "declared"),
    [
        ({"package.json": '{"license": "ISC"}'}, "ISC"),
        ({"composer.json": '{"license": ["MIT", "GPL-2.0+"]}'}, "MIT OR GPL-2.0-or-later"),
        (
            {"pyproject.toml": '[project]\nname = "x"\nlicense = "Apache-2.0 OR MIT"\n'},
            "Apache-2.0 OR MIT",
        ),
        (
            {
                "pyproject.toml": '[project]\nclassifiers = ["License :: OSI Approved :: MIT License"]\n'
            },
            "MIT",
        ),
        ({"setup.cfg": "[metadata]\nlicense = BSD-2-Clause\n"}, "BSD-2-Clause"),
        ({"Cargo.toml": '[package]\nlicense = "MIT/Apache-2.0"\n'}, "MIT OR Apache-2.0"),
        ({"x.gemspec": "Gem::Specification.new { |s| s.licenses = ['MIT'] }"}, "MIT"),
        (
            {
                "pom.xml": "<project><licenses><license><name>The Apache Software License, "
                "Version 2.0</name></license></licenses></project>"
            },
            "Apache-2.0",
        ),
        ({"package.json": '{"license": "Acme Commercial"}'}, "LicenseRef-Acme-Commercial"),
    ],
)
def test_each_manifest_format(tmp_path, files, declared):
    write(tmp_path, files)
    result = scan_repository(tmp_path)
    assert result.declared == declared
    (evidence,) = result.evidence
    assert evidence.kind in {"manifest", "classifier"}


def test_unknown_manifest_license_keeps_the_evidence(tmp_path):
    write(tmp_path, {"package.json": '{"license": "Acme Commercial"}'})
    result = scan_repository(tmp_path)
    assert result.verdict == UNKNOWN
    assert result.evidence[0].unknown == ("Acme Commercial",)
    assert result.to_json()["evidence"][0]["unknown"] == ["Acme Commercial"]


def test_classifiers_give_way_to_a_license_file(tmp_path, texts):
    write(
        tmp_path,
        {
            "LICENSE": texts["BSD-3-Clause"],
            "setup.cfg": "[metadata]\nclassifiers =\n    License :: OSI Approved :: BSD License\n",
        },
    )
    assert scan_repository(tmp_path).declared == "BSD-3-Clause"


def test_reuse_licenses_directory(tmp_path, texts):
    write(
        tmp_path,
        {
            "LICENSES/MIT.txt": texts["MIT"],
            "LICENSES/CC0-1.0.txt": "Creative Commons Legal Code\n",
            "src/a.py": "# SPDX-License-Identifier: MIT\n",
            "docs/a.md": "<!-- SPDX-License-Identifier: CC0-1.0 -->\n",
        },
    )
    result = scan_repository(tmp_path)
    assert result.declared == "CC0-1.0 AND MIT"
    assert {e.detector for e in result.evidence} == {"reuse", "spdx-header"}
    assert [s.path for s in result.scopes] == [""]


def test_spdx_headers_are_the_fallback_when_nothing_is_declared(tmp_path):
    write(
        tmp_path,
        {
            "a.py": "#!/usr/bin/env python\n# SPDX-License-Identifier: GPL-2.0+\nprint()\n",
            "b.c": "/* SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception */\nint x;\n",
            "c.py": "\n" * 40 + "# SPDX-License-Identifier: AGPL-3.0-only\n",  # too deep
        },
    )
    result = scan_repository(tmp_path)
    assert result.declared == "GPL-2.0-or-later AND Apache-2.0 WITH LLVM-exception"
    assert result.verdict == NON_PERMISSIVE
    lines = {e.path: e.line for e in result.evidence}
    assert lines == {"a.py": 2, "b.c": 1}


def test_spdx_headers_do_not_override_a_license_file(tmp_path, texts):
    write(
        tmp_path,
        {
            "LICENSE": texts["MIT"],
            "a.py": "# SPDX-License-Identifier: MIT\n",
            "b.py": "# SPDX-License-Identifier: GPL-3.0-only\n",
        },
    )
    result = scan_repository(tmp_path)
    assert result.declared == "MIT"
    assert any(e.expression == "GPL-3.0-only" for e in result.evidence)  # kept as evidence


@pytest.mark.parametrize(
    ("name", "content", "declared"),
    [
        (
            "README.md",
            "# Thing\n\nDoes things.\n\n## License\n\nMIT © Jane Doe\n\n## Thanks\n\n"
            "Apache folks.\n",
            "MIT",
        ),
        (
            "README.md",
            "Thing\n=====\n\nLicense\n-------\n\nLicensed under either of Apache "
            "License, Version 2.0 or MIT license at your option.\n",
            "Apache-2.0 OR MIT",
        ),
        (
            "README.rst",
            "Thing\n=====\n\nLicence\n-------\n\nThis project is licensed under the GNU GPL v3.\n",
            "GPL-3.0-only",
        ),
        (
            "README.txt",
            "Thing does stuff.\n\nLICENSE:\n\nReleased under the BSD 3-clause license.\n",
            "BSD-3-Clause",
        ),
        ("README.md", "# Thing\n\nLicensed under the MIT license.\n", None),  # not a section
    ],
)
def test_readme_license_sections(tmp_path, name, content, declared):
    write(tmp_path, {name: content})
    result = scan_repository(tmp_path)
    assert result.declared == declared
    if declared:
        assert result.evidence[0].kind == "readme" and result.evidence[0].line is not None


def test_full_license_pasted_under_a_readme_heading(tmp_path, texts):
    readme = (
        "# Project\n\nIt does things.\n\n## License\n\n"
        + texts["BSD-3-Clause"]
        + ("\n\n## Contributing\n\nPull requests welcome.\n")
    )
    write(tmp_path, {"README.md": readme})
    result = scan_repository(tmp_path)
    assert result.declared == "BSD-3-Clause"
    assert result.evidence[0].detector == "askalono"


def test_short_notice_in_a_license_file(tmp_path):
    write(
        tmp_path,
        {
            "LICENSE.md": "Copyright 2024 X.\n\nLicensed under the Apache License, "
            "Version 2.0. See http://www.apache.org/licenses/LICENSE-2.0\n"
        },
    )
    result = scan_repository(tmp_path)
    assert result.declared == "Apache-2.0"
    assert result.evidence[0].detector == "notice-rules"


def test_unrecognised_license_file_is_unknown_not_no_license(tmp_path):
    write(tmp_path, {"LICENSE": "You may use this only on Tuesdays, and never for profit.\n" * 5})
    result = scan_repository(tmp_path)
    assert result.declared == "LicenseRef-unidentified"
    assert result.verdict == UNKNOWN
    assert result.admitted is False


def test_notice_file_without_a_license_name_says_nothing(tmp_path, texts):
    write(
        tmp_path,
        {
            "LICENSE": texts["Apache-2.0"],
            "NOTICE": "This product includes software developed by Acme.\n",
        },
    )
    result = scan_repository(tmp_path)
    assert result.declared == "Apache-2.0"
    assert [e.path for e in result.evidence] == ["LICENSE"]


def test_binary_files_are_skipped(tmp_path, texts):
    write(
        tmp_path,
        {
            "LICENSE": texts["MIT"],
            "logo.png": b"\x89PNG\r\n\x1a\n" + os.urandom(256),
            "blob.dat": b"SPDX-License-Identifier: GPL-3.0-only\x00\x01\x02",
            "COPYING": b"\x00\x01binary pretending to be a license",
        },
    )
    result = scan_repository(tmp_path)
    assert result.declared == "MIT"
    assert result.skipped["binary"] == 3
    assert [e.path for e in result.evidence] == ["LICENSE"]


def test_huge_files_are_read_only_up_to_a_bound(tmp_path, texts):
    write(
        tmp_path,
        {
            "LICENSE": texts["MIT"] + "\n" + "padding line\n" * 400_000,  # ~5 MB
            "big.py": "# SPDX-License-Identifier: MIT\n" + "x = 1\n" * 1_000_000,
            "package.json": '{"license": "MIT", "pad": "' + "a" * 3_000_000 + '"}',
        },
    )
    result = scan_repository(tmp_path)
    assert result.declared == "MIT"
    kinds = {e.kind for e in result.evidence}
    assert "spdx_header" in kinds


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-8-sig"])
def test_non_utf8_encodings(tmp_path, texts, encoding):
    text = "Copyright © 2020 Jürgen Müller\n\n" + texts["MIT"]
    (tmp_path / "LICENSE").write_bytes(text.encode(encoding))
    (tmp_path / "main.c").write_bytes(
        "/* © Müller\n * SPDX-License-Identifier: MIT */\n".encode(encoding)
    )
    result = scan_repository(tmp_path)
    assert result.declared == "MIT"
    assert {e.path for e in result.evidence} == {"LICENSE", "main.c"}


def test_invalid_utf8_bytes_do_not_break_the_scan(tmp_path, texts):
    (tmp_path / "LICENSE").write_bytes(b"\xfa garbage \xc3\x28 \x80\n" + texts["MIT"].encode())
    assert scan_repository(tmp_path).declared == "MIT"


def test_symlinks_are_not_followed(tmp_path, texts):
    outside = tmp_path / "outside"
    write(outside, {"LICENSE": texts["MPL-2.0"]})
    repo = tmp_path / "repo"
    write(repo, {"LICENSE": texts["MIT"]})
    (repo / "LICENSE.other").symlink_to(outside / "LICENSE")
    (repo / "linked").symlink_to(outside, target_is_directory=True)
    result = scan_repository(repo)
    assert result.declared == "MIT"
    assert result.skipped["symlink"] == 1  # the file; the linked directory is never entered
    assert [e.path for e in result.evidence] == ["LICENSE"]


def test_file_limit_truncates_and_says_so(tmp_path):
    write(tmp_path, {f"f{i}.py": "x = 1\n" for i in range(20)})
    result = scan_repository(tmp_path, max_files=5)
    assert result.truncated and result.files_scanned == 5


def test_json_matches_the_product_contract(tmp_path, texts):
    write(tmp_path, {"LICENSE": texts["MIT"], "vendor/x/COPYING": "Licensed under GPL-2.0-only"})
    data = json.loads(json.dumps(scan_repository(tmp_path).to_json()))
    assert data["declared"] == "MIT"
    assert data["verdict"] == "permissive"
    assert data["policy"] == {"name": DEFAULT_POLICY.name, "version": DEFAULT_POLICY.version}
    assert data["detector"]["name"] == "askalono"
    for item in data["evidence"]:
        assert {"path", "expression", "score", "detector"} <= set(item)
    assert [s["path"] for s in data["scopes"]] == ["", "vendor/x"]


def test_detect_text_on_installed_license_files():
    """Real license files of installed distributions, against their declared metadata."""
    checked = 0
    for dist, name, expected in [
        ("click", "LICENSE.txt", "BSD-3-Clause"),
        ("requests", "LICENSE", "Apache-2.0"),
        ("certifi", "LICENSE", "MPL-2.0"),
        ("msgpack", "COPYING", "Apache-2.0"),
        ("peewee", "LICENSE", "MIT"),
        ("psycopg2-binary", "LICENSE", "LGPL-3.0-or-later"),
    ]:
        (evidence,) = detect_text(installed_license(dist, name), name)
        assert evidence.expression == expected, dist
        checked += 1
    assert checked == 6
