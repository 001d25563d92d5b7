"""Package manifests: each format's license field, read without running anything."""

from __future__ import annotations

import pytest

from shared.licenses import manifests


@pytest.mark.parametrize(
    ("reader", "text", "expected"),
    [
        (manifests.package_json, '{"license": "MIT"}', ["MIT"]),
        (manifests.package_json, '{"license": {"type": "ISC"}}', ["ISC"]),
        (
            manifests.package_json,
            '{"licenses": [{"type": "MIT"}, {"type": "GPL-2.0"}]}',
            ["MIT", "GPL-2.0"],
        ),
        (manifests.package_json, '{"license": "SEE LICENSE IN LICENSE.txt"}', []),
        (manifests.package_json, "{not json", []),
        (manifests.package_json, "[1, 2]", []),
        (
            manifests.composer_json,
            '{"license": ["LGPL-2.1-only", "GPL-3.0-or-later"]}',
            ["LGPL-2.1-only", "GPL-3.0-or-later"],
        ),
        (manifests.composer_json, '{"license": "proprietary"}', ["proprietary"]),
        (
            manifests.pyproject_toml,
            '[project]\nlicense = "MIT OR Apache-2.0"\n',
            ["MIT OR Apache-2.0"],
        ),
        (
            manifests.pyproject_toml,
            '[project]\nlicense = {text = "BSD-3-Clause"}\n',
            ["BSD-3-Clause"],
        ),
        (manifests.pyproject_toml, '[project]\nlicense = {file = "LICENSE"}\n', []),
        (manifests.pyproject_toml, '[tool.poetry]\nlicense = "MIT"\n', ["MIT"]),
        (manifests.pyproject_toml, "[project\nbroken", []),
        (
            manifests.pyproject_classifiers,
            '[project]\nclassifiers = ["License :: OSI Approved :: MIT License", '
            '"Programming Language :: Python"]\n',
            ["MIT"],
        ),
        (manifests.setup_cfg, "[metadata]\nname = x\nlicense = Apache-2.0\n", ["Apache-2.0"]),
        (
            manifests.setup_cfg,
            "[metadata]\nlicense_expression = MIT\nlicense = MIT License\n",
            ["MIT"],
        ),
        (manifests.setup_cfg, "[metadata]\nlicense = file: LICENSE\n", []),
        (
            manifests.setup_cfg_classifiers,
            "[metadata]\nclassifiers =\n    License :: OSI Approved :: GNU General Public "
            "License v3 (GPLv3)\n    Topic :: Utilities\n",
            ["GPL-3.0-only"],
        ),
        (manifests.setup_cfg, "not an ini [file", []),
        (
            manifests.cargo_toml,
            '[package]\nname = "x"\nlicense = "MIT/Apache-2.0"\n',
            ["MIT/Apache-2.0"],
        ),
        (manifests.cargo_toml, '[package]\nlicense-file = "LICENSE"\n', []),
        (manifests.gemspec, 'Gem::Specification.new do |s|\n  s.license = "MIT"\nend\n', ["MIT"]),
        (manifests.gemspec, "spec.licenses = ['MIT', 'Apache-2.0']", ["MIT", "Apache-2.0"]),
        (manifests.gemspec, "spec.licenses = %w[Ruby BSD-2-Clause]", ["Ruby", "BSD-2-Clause"]),
        (
            manifests.pom_xml,
            "<project><licenses><license><name>Apache License, Version 2.0</name>"
            "<url>https://www.apache.org/licenses/LICENSE-2.0.txt</url></license>"
            "<!-- <license><name>GPL</name></license> -->"
            "<license><name>MIT &amp; friends</name></license></licenses></project>",
            ["Apache License, Version 2.0", "MIT & friends"],
        ),
        (manifests.pom_xml, "<project><name>x</name></project>", []),
    ],
)
def test_manifest_readers(reader, text, expected):
    assert reader(text) == expected


def test_readers_are_found_by_file_name():
    assert manifests.readers_for("package.json")[0] is manifests.package_json
    assert manifests.readers_for("foo.gemspec")[0] is manifests.gemspec
    assert manifests.readers_for("pyproject.toml")[1] is manifests.pyproject_classifiers
    assert manifests.readers_for("README.md") is None
