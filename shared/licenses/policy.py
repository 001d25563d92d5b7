"""License policy: which SPDX expressions a dataset admits, as a named, versioned object.

Verdicts are ``permissive``, ``non_permissive``, ``no_license`` and ``unknown``. A license id
is permissive when the policy admits it: by default, every license the Blue Oak Council rates
(``data/blueoak.json``) and every license ScanCode files under the Permissive or Public
Domain categories (the ScanCode LicenseDB index shipped inside the license-expression wheel).
``OR`` passes when any branch passes, ``AND`` when all do, and ``X WITH exception`` is judged
as ``X``. ``LicenseRef-*`` ids are ``unknown``, except ScanCode's own ``LicenseRef-scancode-*``
ids, which that index categorises (a policy setting).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from importlib import resources

from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol

from shared.licenses import expressions

PERMISSIVE = "permissive"
NON_PERMISSIVE = "non_permissive"
NO_LICENSE = "no_license"
UNKNOWN = "unknown"
VERDICTS = (PERMISSIVE, NON_PERMISSIVE, NO_LICENSE, UNKNOWN)

BLUE_OAK_TIERS = ("Model", "Gold", "Silver", "Bronze", "Lead")


@dataclass(frozen=True)
class Policy:
    """A named, versioned set of rules; change ``version`` whenever a setting changes."""

    name: str
    version: str
    blue_oak_tiers: tuple[str, ...] = BLUE_OAK_TIERS
    scancode_categories: tuple[str, ...] = ("Permissive", "Public Domain")
    allow: tuple[str, ...] = ()  # SPDX ids admitted on top of the lists above
    deny: tuple[str, ...] = ()  # SPDX ids refused whatever the lists say
    admit_no_license: bool = True
    admit_unknown: bool = False
    judge_scancode_refs: bool = True
    description: str = ""
    _admitted: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        admitted = set(self.allow)
        admitted |= blue_oak_ids(self.blue_oak_tiers)
        admitted |= {
            key
            for key, category in scancode_categories().items()
            if category in self.scancode_categories
        }
        admitted -= set(self.deny)
        object.__setattr__(self, "_admitted", frozenset(admitted))

    def license_verdict(self, key: str) -> str:
        """Judge one license id (no operators)."""
        if key in self._admitted:
            return PERMISSIVE
        if key.startswith("LicenseRef-") and not (
            self.judge_scancode_refs and key.startswith("LicenseRef-scancode-")
        ):
            return UNKNOWN
        category = scancode_categories().get(key)
        if category is None or category == "Unstated License":
            return UNKNOWN
        return NON_PERMISSIVE

    def judge(self, expression: str | None) -> str:
        """Judge an SPDX expression; None (nothing found) is ``no_license``."""
        if not expression:
            return NO_LICENSE
        try:
            tree = expressions.parse(expression)
        except Exception:  # an expression that does not parse cannot be trusted
            return UNKNOWN
        return self._judge_node(tree)

    def admits(self, verdict: str) -> bool:
        """Whether code with this verdict goes into the dataset."""
        return {
            PERMISSIVE: True,
            NON_PERMISSIVE: False,
            NO_LICENSE: self.admit_no_license,
            UNKNOWN: self.admit_unknown,
        }[verdict]

    def to_json(self) -> dict:
        """Name, version and every setting, for storing beside a verdict."""
        data = asdict(self)
        data.pop("_admitted", None)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    def _judge_node(self, node) -> str:
        if isinstance(node, LicenseWithExceptionSymbol):
            # An exception only adds permissions; the license underneath decides.
            return self.license_verdict(node.license_symbol.key)
        if isinstance(node, LicenseSymbol):
            return self.license_verdict(node.key)
        verdicts = [self._judge_node(arg) for arg in node.args]
        if isinstance(node, OR):
            return _any(verdicts)
        if isinstance(node, AND):
            return _all(verdicts)
        return UNKNOWN


def _any(verdicts: Iterable[str]) -> str:
    verdicts = set(verdicts)
    if PERMISSIVE in verdicts:
        return PERMISSIVE
    return UNKNOWN if UNKNOWN in verdicts else NON_PERMISSIVE


def _all(verdicts: Iterable[str]) -> str:
    verdicts = set(verdicts)
    if NON_PERMISSIVE in verdicts:
        return NON_PERMISSIVE
    return UNKNOWN if UNKNOWN in verdicts else PERMISSIVE


@functools.cache
def blue_oak_list() -> dict:
    """The embedded Blue Oak Council list with its source and retrieval date."""
    data = resources.files("shared.licenses").joinpath("data/blueoak.json").read_text("utf-8")
    return json.loads(data)


def blue_oak_ids(tiers: Iterable[str] = BLUE_OAK_TIERS) -> frozenset[str]:
    """SPDX ids the Blue Oak Council rates in the given tiers."""
    wanted = set(tiers)
    return frozenset(
        lic["id"]
        for rating in blue_oak_list()["ratings"]
        if rating["name"] in wanted
        for lic in rating["licenses"]
    )


@functools.cache
def scancode_categories() -> dict[str, str]:
    """SPDX id (and ScanCode LicenseRef) to ScanCode category, from license-expression's data."""
    index = resources.files("license_expression").joinpath("data/scancode-licensedb-index.json")
    categories: dict[str, str] = {}
    for entry in json.loads(index.read_text("utf-8")):
        key = entry.get("spdx_license_key")
        if key and entry.get("category") and not entry.get("is_deprecated"):
            categories.setdefault(key, entry["category"])
    return categories


DEFAULT_POLICY = Policy(
    name="optout-default",
    version="1",
    description=(
        "Admits Blue Oak Council rated licenses (all tiers) and ScanCode's Permissive and "
        "Public Domain categories; admits code with no license; refuses unknown licenses."
    ),
)
