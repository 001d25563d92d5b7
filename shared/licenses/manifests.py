"""License fields of package manifests, read without running anything.

Each reader takes the file's text and returns the license strings it declares as alternatives:
one string is the license (often an SPDX expression); several are a choice, which is what
several licenses mean in npm's legacy ``licenses``, Composer, RubyGems, Maven and a list of
trove classifiers. The caller normalises each and joins them with ``OR``. Readers never raise
on malformed input; they return an empty list.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from collections.abc import Callable

# Trove classifiers (PyPI) that name one license, to SPDX.
CLASSIFIERS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: BSD License": "LicenseRef-BSD",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "License :: OSI Approved :: GNU General Public License (GPL)": "GPL-1.0-or-later",
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)": (
        "GPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)": (
        "GPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": (
        "LGPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": (
        "LGPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU Library or Lesser General Public License (LGPL)": (
        "LGPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": (
        "AGPL-3.0-or-later"
    ),
    "License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: OSI Approved :: zlib/libpng License": "Zlib",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
    "License :: OSI Approved :: Artistic License": "Artistic-2.0",
    "License :: OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "License :: Public Domain": "LicenseRef-scancode-public-domain",
}


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def package_json(text: str) -> list[str]:
    """npm: ``license`` (SPDX expression or legacy ``{type}``) or legacy ``licenses`` list."""
    data = _json(text)
    if not isinstance(data, dict):
        return []
    value = data.get("license")
    if isinstance(value, dict):
        value = value.get("type")
    if isinstance(value, str) and value.strip():
        if value.strip().upper().startswith("SEE LICENSE IN"):
            return []  # points at a file, which is scanned on its own
        return [value]
    legacy = data.get("licenses")
    if isinstance(legacy, list):
        names = [x.get("type") if isinstance(x, dict) else x for x in legacy]
        return [n for n in names if isinstance(n, str) and n.strip()]
    return []


def composer_json(text: str) -> list[str]:
    """Composer: ``license`` string or list (a list is a choice, per Composer's schema)."""
    data = _json(text)
    if not isinstance(data, dict):
        return []
    value = data.get("license")
    if isinstance(value, str) and value.strip():
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def _toml(text: str) -> dict:
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError):
        return {}


def _pyproject_tables(text: str) -> tuple[dict, dict]:
    data = _toml(text)
    project = data.get("project")
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    return (
        project if isinstance(project, dict) else {},
        poetry if isinstance(poetry, dict) else {},
    )


def pyproject_toml(text: str) -> list[str]:
    """PEP 639 ``project.license`` expression, PEP 621 ``{text = ...}``, or Poetry's."""
    project, poetry = _pyproject_tables(text)
    value = project.get("license")
    if isinstance(value, dict):
        value = value.get("text")  # {file = ...} points at a file scanned on its own
    if not (isinstance(value, str) and value.strip()):
        value = poetry.get("license")
    return [value] if isinstance(value, str) and value.strip() else []


def pyproject_classifiers(text: str) -> list[str]:
    """License trove classifiers of ``project`` (or Poetry)."""
    project, poetry = _pyproject_tables(text)
    return from_classifiers(project.get("classifiers") or poetry.get("classifiers") or [])


def _setup_cfg_metadata(text: str):
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return {}
    return parser["metadata"] if parser.has_section("metadata") else {}


def setup_cfg(text: str) -> list[str]:
    """setuptools ``[metadata] license_expression`` or ``license`` (one line)."""
    meta = _setup_cfg_metadata(text)
    for key in ("license_expression", "license"):
        value = meta.get(key, "").strip()
        if value and "\n" not in value and not value.startswith("file:"):
            return [value]
    return []


def setup_cfg_classifiers(text: str) -> list[str]:
    """License trove classifiers of ``[metadata] classifiers``."""
    return from_classifiers(_setup_cfg_metadata(text).get("classifiers", "").splitlines())


def cargo_toml(text: str) -> list[str]:
    """Cargo: ``package.license`` (SPDX expression; old manifests use ``/`` for OR)."""
    package = _toml(text).get("package")
    value = package.get("license") if isinstance(package, dict) else None
    return [value] if isinstance(value, str) and value.strip() else []


_GEM_LICENSE = re.compile(r"""\.licenses?\s*=\s*(\[[^\]]*\]|%w[\[(][^\])]*[\])]|["'][^"']+["'])""")
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def gemspec(text: str) -> list[str]:
    """RubyGems: ``spec.license = "MIT"`` or ``spec.licenses = [...]`` (a choice)."""
    match = _GEM_LICENSE.search(text)
    if not match:
        return []
    value = match.group(1)
    names = value[3:-1].split() if value.startswith("%w") else _QUOTED.findall(value)
    return [n for n in names if n.strip()]


_POM_LICENSES = re.compile(r"<licenses>(.*?)</licenses>", re.DOTALL)
_POM_LICENSE = re.compile(r"<license>(.*?)</license>", re.DOTALL)
_POM_NAME = re.compile(r"<name>\s*(.*?)\s*</name>", re.DOTALL)
_XML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def pom_xml(text: str) -> list[str]:
    """Maven: each ``<licenses><license><name>``; several licenses are a choice (Maven docs)."""
    block = _POM_LICENSES.search(_XML_COMMENT.sub("", text))
    if not block:
        return []
    names = []
    for entry in _POM_LICENSE.findall(block.group(1)):
        name = _POM_NAME.search(entry)
        if name and name.group(1).strip():
            names.append(_unescape_xml(name.group(1)))
    return names


def _unescape_xml(text: str) -> str:
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'")):
        text = text.replace(entity, char)
    return " ".join(text.replace("&amp;", "&").split())


def from_classifiers(classifiers) -> list[str]:
    """SPDX ids of the license classifiers in a list (several are all offered: a choice)."""
    ids = [
        CLASSIFIERS[c.strip()]
        for c in classifiers
        if isinstance(c, str) and c.strip() in CLASSIFIERS
    ]
    return list(dict.fromkeys(ids))


Reader = Callable[[str], list[str]]

# file name: (reader of the license field, reader of weaker hints used only as a fallback)
READERS: dict[str, tuple[Reader, Reader | None]] = {
    "package.json": (package_json, None),
    "composer.json": (composer_json, None),
    "pyproject.toml": (pyproject_toml, pyproject_classifiers),
    "setup.cfg": (setup_cfg, setup_cfg_classifiers),
    "Cargo.toml": (cargo_toml, None),
    "pom.xml": (pom_xml, None),
}


def readers_for(filename: str) -> tuple[Reader, Reader | None] | None:
    """The readers for a manifest file name, or None if it is not a manifest we read."""
    if filename.endswith(".gemspec"):
        return (gemspec, None)
    return READERS.get(filename)
