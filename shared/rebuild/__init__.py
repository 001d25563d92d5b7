"""Dataset rebuild: source repositories in, a governed, versioned release out.

    from shared.rebuild import discover, load_exclusions, rebuild
    sources = discover([Path("checkouts/")])
    exclusions = load_exclusions("/var/lib/optout/exclusions", trusted_keys)  # fail closed
    result = rebuild(sources, Path("releases/v2"), "v2", exclusions,
                     previous=Path("releases/v1"))

Stages are in ``pipeline``; inputs in ``inputs``; identities in ``identity``; per-file
filters, languages and licenses in ``annotate`` and ``licensing``; deduplication in
``dedup``; shards, catalog and changelog in ``release`` and ``changelog``. The same stages
run under datatrove (``datatrove_steps``) and the row-level filters as Spark DataFrame
operations (``spark``).
"""

from shared.rebuild.config import RebuildConfig
from shared.rebuild.inputs import InputError, discover
from shared.rebuild.pipeline import (
    ExclusionList,
    PiiSettings,
    RebuildError,
    RebuildResult,
    load_exclusions,
    rebuild,
)

__all__ = [
    "ExclusionList",
    "InputError",
    "PiiSettings",
    "RebuildConfig",
    "RebuildError",
    "RebuildResult",
    "discover",
    "load_exclusions",
    "rebuild",
]
