"""The settings of a rebuild, hashed into the release manifest so a release names its recipe."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from shared.canonical import canonical_json

FORMAT = "optout-release v2"  # v2: private outputs in their own directory
# Code is split on anything that is not a letter, digit or underscore (BigCode's near-dedup
# tokenizer), so punctuation never makes two copies differ; shingles are 5 consecutive tokens.
TOKENIZER = "optout-code-words-v1"


class ConfigError(ValueError):
    """A setting out of range."""


@dataclass(frozen=True)
class RebuildConfig:
    """Every setting that changes what a release contains (see the README for each)."""

    max_file_bytes: int = 1_000_000
    drop_vendored: bool = True
    drop_generated: bool = True
    drop_unknown_language: bool = True
    languages: tuple[str, ...] = ()  # Linguist names to keep; empty keeps every language
    near_dedup: bool = True
    ngram: int = 5
    num_perm: int = 256
    jaccard_threshold: float = 0.7
    minhash_seed: int = 1
    tokenizer: str = TOKENIZER
    shards: int = 16
    row_group_rows: int = 2048
    compression_level: int = 3  # zstd
    pii_sensitivity: int = 2
    pseudonymize_ips: bool = True
    default_host: str = "github.com"

    def __post_init__(self) -> None:
        if self.max_file_bytes < 1:
            raise ConfigError("max_file_bytes must be positive")
        if not 0.0 < self.jaccard_threshold < 1.0:
            raise ConfigError("jaccard_threshold must be between 0 and 1")
        if self.ngram < 1 or self.num_perm < 16:
            raise ConfigError("ngram must be >= 1 and num_perm >= 16")
        if not 1 <= self.shards <= 100_000:
            raise ConfigError("shards must be between 1 and 100000")
        if self.row_group_rows < 1 or not 1 <= self.compression_level <= 22:
            raise ConfigError("row_group_rows must be positive, compression_level 1..22")
        if self.pii_sensitivity not in (1, 2, 3):
            raise ConfigError("pii_sensitivity must be 1, 2 or 3")
        if self.tokenizer != TOKENIZER:
            raise ConfigError(f"only the pinned tokenizer {TOKENIZER} is available")
        object.__setattr__(self, "languages", tuple(sorted(set(self.languages))))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["languages"] = list(self.languages)
        data["jaccard_threshold"] = repr(self.jaccard_threshold)  # canonical JSON has no floats
        return data

    def sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.to_json())).hexdigest()

    def with_changes(self, **changes: Any) -> RebuildConfig:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)


def sha256_json(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()
