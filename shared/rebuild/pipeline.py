"""``rebuild``: sources in, a governed release out. The stages, in order:

1. **read + annotate** each source (cached in the work directory by the source's fingerprint
   and the settings that shape annotation): identity, content filters, vendored/generated,
   language, license scopes and verdicts (``annotate``);
2. **cluster** the files that passed (``dedup``): signatures cached by blob id, clusters cached
   by the set of contents, so a rebuild after an opt-out recomputes neither;
3. **exclusions**: the verified list (no verified list, no build) drops its rows;
4. **select** the best-ranked copy of every cluster among what is left;
5. **write** deterministic shards (redacting PII on the way, honouring reviewers' decisions),
   skipping shards already complete; then the ledger, clusters, catalog, changelog and,
   last, the manifest.

The release directory gets only what may be published (shards, catalog, manifest); what
names every input repository goes to the private directory (see ``release.Layout``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shared.atomic import write_atomic
from shared.canonical import canonical_json
from shared.exclusions.apply import BatchMatcher
from shared.exclusions.format import Matcher
from shared.exclusions.manifest import note_hash
from shared.exclusions.pull import load_state, load_verified
from shared.licenses.policy import DEFAULT_POLICY, Policy
from shared.pii import Scanner
from shared.rebuild import dedup
from shared.rebuild.annotate import SCAN_SCHEMA, StageClock, annotate, language_detector
from shared.rebuild.changelog import LEDGER_SCHEMA, changelog, changelog_json
from shared.rebuild.config import FORMAT, RebuildConfig, sha256_json
from shared.rebuild.inputs import InputError, Source
from shared.rebuild.licensing import detector_version
from shared.rebuild.release import (
    Layout,
    ShardWriter,
    catalog_lines,
    sha256_file,
    shard_of,
    write_table,
)

RELEASE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
SCAN_VERSION = "2"  # 2: license scopes by shared.licenses.scan_files
Progress = Callable[[str, int], AbstractContextManager[Callable[[int], object]]]


def no_progress(label: str, total: int) -> AbstractContextManager[Callable[[int], object]]:
    return contextlib.nullcontext(lambda n: None)


class RebuildError(ValueError):
    """A rebuild that cannot go ahead (bad release name, clashing inputs, bad previous)."""


@dataclass(frozen=True)
class ExclusionList:
    """The verified list a release applies, with the hashes the manifest records."""

    matcher: Matcher
    version: int
    manifest_sha256: str
    body_sha256: str

    def to_json(self) -> dict:
        return {"version": self.version, "manifest_sha256": self.manifest_sha256,
                "body_sha256": self.body_sha256, "rules": len(self.matcher),
                "privacy": self.matcher.salt is not None}


@dataclass(frozen=True)
class PiiSettings:
    key: bytes | None = None  # None: the public development key
    false_positives: frozenset = frozenset()
    decisions_sha256: str | None = None

    def to_json(self) -> dict:
        key_id = None
        if self.key is not None:
            key_id = hashlib.sha256(b"optout pii key id\x00" + self.key).hexdigest()[:16]
        return {"key_id": key_id, "development_key": self.key is None,
                "decisions_sha256": self.decisions_sha256,
                "false_positives": len(self.false_positives)}


@dataclass(frozen=True)
class Recipe:
    """What a release is built from and with: the manifest records all of it."""

    sources: list[Source]
    exclusions: ExclusionList
    policy: Policy
    config: RebuildConfig
    pii: PiiSettings


@dataclass(frozen=True)
class Outcome:
    """What the stages decided: every file's fate, the clusters, the released rows, shards."""

    ledger: pa.Table
    clusters: pa.Table
    released: pa.Table
    shards: list[dict]
    redacted_files: int
    redactions: int


@dataclass(frozen=True)
class Previous:
    """The release a rebuild is compared against."""

    layout: Layout
    manifest: dict


@dataclass
class RebuildResult:
    out: Path
    manifest: dict
    seconds: dict[str, float]
    shards_reused: dict[str, int]
    clusters_reused: bool
    scans_reused: int
    files: int = 0
    drops: Counter = field(default_factory=Counter)
    private: Path | None = None


def rebuild(
    sources: list[Source],
    out: Path,
    release: str,
    exclusions: ExclusionList,
    *,
    policy: Policy = DEFAULT_POLICY,
    config: RebuildConfig | None = None,
    pii: PiiSettings | None = None,
    previous: Path | None = None,
    work: Path | None = None,
    progress: Progress = no_progress,
    workers: int = 1,
    private: Path | None = None,
    previous_private: Path | None = None,
) -> RebuildResult:
    """Build release ``release`` into ``out`` (see the module docstring for the stages).

    ``private`` (default ``<out>.private``) gets the outputs that name opted-out repositories
    and the default ``work`` cache; ``previous_private`` (default ``<previous>.private``)
    holds the previous release's.
    """
    if not RELEASE_NAME.match(release):
        raise RebuildError("a release name is 1-128 letters, digits, '.', '_' or '-'")
    layout = _layout(out, private)
    before = _previous(previous, previous_private, layout)
    config = config or RebuildConfig()
    pii = pii or PiiSettings()
    work = work or layout.private / "work"
    clock = StageClock()
    policy_json = policy.to_json()
    scan_settings = sha256_json({
        "version": SCAN_VERSION, "config": {k: v for k, v in config.to_json().items() if k in (
            "max_file_bytes", "drop_vendored", "drop_generated", "drop_unknown_language",
            "languages")},
        "policy": policy_json, "language": language_detector(), "license": detector_version()})
    rows, scans_reused = _scan_all(sources, work, scan_settings, config, policy, clock, progress)
    drops = rows["drop"].to_numpy(zero_copy_only=False)
    candidate_index = np.flatnonzero(pc.is_null(rows["drop"]).to_numpy(zero_copy_only=False))
    # Candidates carry no content: it is taken from ``rows`` only where needed (signatures
    # of unseen blobs, released rows), not copied whole at every step.
    candidates = rows.drop_columns(["content"]).take(pa.array(candidate_index, pa.int64()))
    clusters, clusters_reused = _clusters(rows, candidates, candidate_index, work, config,
                                          clock, progress, workers)
    candidates = candidates.append_column(
        "cluster_id", pa.array([clusters[b] for b in candidates["blob_id"].to_pylist()],
                               pa.string()))
    excluded = clock.timed("exclusions", _excluded, candidates, exclusions.matcher)
    details: list[str | None] = [None] * len(rows)
    for i, reason in zip(candidate_index[excluded >= 0], excluded[excluded >= 0], strict=True):
        drops[i] = f"excluded_{exclusions.matcher.rules[reason]['kind']}"
        details[i] = exclusions.matcher.rules[reason]["kind"]
    released, cluster_table = clock.timed(
        "select", _select, rows, candidates, candidate_index, excluded, drops, details)
    settings = sha256_json({"config": config.sha256(), "pii": pii.to_json(),
                            "schema": "1", "pyarrow": pa.__version__})
    writer = ShardWriter(layout, config, settings, Scanner(key=pii.key,
                                                           sensitivity=config.pii_sensitivity),
                         pii.false_positives, before.layout if before else None)
    shards = clock.timed("pii_and_write", _write_shards, writer, released, config, progress)
    ledger = _ledger(rows, drops, details, candidate_index, candidates["cluster_id"])
    recipe = Recipe(sources, exclusions, policy, config, pii)
    outcome = Outcome(ledger, cluster_table, released, shards, writer.redacted_files,
                      writer.redactions)
    manifest = clock.timed("finalize", _finalize, layout, release, recipe, outcome, before)
    return RebuildResult(out, manifest, dict(clock.seconds), dict(writer.reused),
                         clusters_reused, scans_reused, len(rows),
                         Counter(d for d in drops if d is not None), layout.private)


def load_exclusions(state_dir: str | Path, trust: list[str], *, now: datetime | None = None,
                    max_age_days: float | None = None) -> ExclusionList:
    """Load the verified list a pull saved; raise ``PullError`` when there is none (fail closed)."""
    manifest, matcher = load_verified(state_dir, trust, now=now, max_age_days=max_age_days)
    saved = load_state(state_dir)
    assert saved is not None  # load_verified raised otherwise
    return ExclusionList(matcher, manifest.version, note_hash(saved.note), manifest.sha256)


def _layout(out: Path, private: Path | None) -> Layout:
    layout = Layout.of(out, private)
    public, private_dir = layout.public.resolve(), layout.private.resolve()
    if private_dir == public or public in private_dir.parents:
        raise RebuildError("the private directory cannot be the release directory or inside "
                           "it: the release directory is what gets published")
    return layout


def _previous(previous: Path | None, private: Path | None, layout: Layout) -> Previous | None:
    if previous is None:
        return None
    before = Layout.of(previous, private)
    if previous.resolve() == layout.public.resolve():
        raise RebuildError("the previous release cannot be the output directory")
    if before.private.resolve() == layout.private.resolve():
        raise RebuildError("the previous release's private directory cannot be this one's: "
                           "its ledger would be overwritten before the changelog reads it")
    try:
        manifest = json.loads((previous / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise RebuildError(f"{previous}: not a release (manifest.json: {error})") from None
    if not (before.private / "ledger.parquet").is_file():
        raise RebuildError(f"{before.private}: no ledger.parquet: the previous release's "
                           "private directory is needed for the changelog (--previous-private)")
    return Previous(before, manifest)


def _scan_all(sources, work, settings, config, policy, clock, progress) -> tuple[pa.Table, int]:
    tables, reused, seen = [], 0, {}
    cache: dict = {}
    with progress("read, annotate", len(sources)) as advance:
        for source in sources:
            key = hashlib.sha256(f"{settings}\n{source.fingerprint()}".encode()).hexdigest()
            cached = work / "scan" / f"{key}.parquet"
            if cached.is_file():
                table = pq.read_table(cached, schema=SCAN_SCHEMA)
                reused += 1
            else:
                parts = [annotate(s, config, policy, cache, clock)
                         for s in _timed(clock, "read", source.snapshots())]
                table = pa.concat_tables(parts) if parts else SCAN_SCHEMA.empty_table()
                write_table(cached, table, config.with_changes(compression_level=1))
            for repo in pc.unique(table["repo_key"]).to_pylist():
                if seen.setdefault(repo, source.description) != source.description:
                    raise InputError(f"repository {repo} is in two inputs: {seen[repo]} "
                                     f"and {source.description}")
            tables.append(table)
            advance(1)
    rows = pa.concat_tables(tables) if tables else SCAN_SCHEMA.empty_table()
    return rows.combine_chunks(), reused


def _timed(clock: StageClock, stage: str, items: Iterator) -> Iterator:
    while True:
        try:
            item = clock.timed(stage, next, items)
        except StopIteration:
            return
        yield item


def _clusters(rows: pa.Table, candidates: pa.Table, candidate_index: np.ndarray, work: Path,
              config: RebuildConfig, clock: StageClock, progress: Progress,
              workers: int) -> tuple[dict[str, str], bool]:
    pairs = sorted(set(zip(candidates["language"].to_pylist(),
                           candidates["blob_id"].to_pylist(), strict=True)))
    key = dedup.cluster_key(pairs, config)
    cached = work / "clusters" / f"{key}.parquet"
    if cached.is_file():
        table = pq.read_table(cached)
        return dict(zip(table["blob_id"].to_pylist(), table["cluster_id"].to_pylist(),
                        strict=True)), True
    blobs = sorted({blob for _, blob in pairs})
    if config.near_dedup:
        signatures = clock.timed("minhash", _signatures, rows, candidates, candidate_index,
                                 blobs, work, config, progress, workers)
        by_language: dict[str, list[tuple[str, bytes]]] = {}
        for language, blob in pairs:
            if signatures.get(blob) is not None:
                by_language.setdefault(language or "", []).append((blob, signatures[blob]))
        with progress("near-dedup (LSH)", len(pairs)) as advance:
            found = clock.timed("lsh", dedup.near_clusters, by_language, config, advance)
    else:
        found = {}
    clusters = {blob: found.get(blob, blob) for blob in blobs}
    write_table(cached, pa.table({"blob_id": list(clusters), "cluster_id": list(
        clusters.values())}), config.with_changes(compression_level=1))
    return clusters, False


def _signatures(rows, candidates, candidate_index, blobs, work, config, progress,
                workers) -> dict[str, bytes | None]:
    folder = work / "minhash" / hashlib.sha256(
        f"{config.tokenizer}:{config.ngram}:{config.num_perm}:{config.minhash_seed}:"
        f"{dedup.SCHEME}:{dedup.SHINGLE_HASH}".encode()
    ).hexdigest()[:16]
    known: dict[str, bytes | None] = {}
    parts = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    for part in (p for p in parts if not p.name.startswith(".")):  # not a crash's temporary
        table = pq.read_table(part)
        known.update(zip(table["blob_id"].to_pylist(), table["signature"].to_pylist(),
                         strict=True))
    missing = [b for b in blobs if b not in known]
    if missing:
        first: dict[str, int] = {}
        for blob, row in zip(candidates["blob_id"].to_pylist(), candidate_index.tolist(),
                             strict=True):
            first.setdefault(blob, row)
        with progress("MinHash signatures", len(missing)) as advance:
            computed = dedup.signatures(_contents(rows, [first[b] for b in missing]), config,
                                        advance, workers)
        part = hashlib.sha256("\n".join(missing).encode()).hexdigest()[:16]
        write_table(folder / f"{part}.parquet", pa.table({
            "blob_id": missing, "signature": pa.array(computed, pa.binary())}),
            config.with_changes(compression_level=1))
        known.update(zip(missing, computed, strict=True))
    return known


def _contents(rows: pa.Table, index: list[int], chunk: int = 4096) -> Iterator[bytes]:
    """The contents of some rows, in order, a chunk at a time."""
    for start in range(0, len(index), chunk):
        yield from rows["content"].take(pa.array(index[start:start + chunk],
                                                 pa.int64())).to_pylist()


def _excluded(candidates: pa.Table, matcher: Matcher) -> np.ndarray:
    if len(candidates) == 0:
        return np.zeros(0, dtype=np.int64)
    columns = candidates.select(["host", "owner", "name", "path", "blob_id"])
    return BatchMatcher(matcher).rule_ids(columns)


def _select(rows, candidates, candidate_index, excluded, drops,
            details) -> tuple[pa.Table, pa.Table]:
    """Choose the released copy per cluster; return (released rows, the clusters table)."""
    _, rank_all, _ = dedup.select(candidates)
    alive = np.flatnonzero(excluded < 0)
    remaining = candidates.take(pa.array(alive, pa.int64()))
    kept, _, keeper = dedup.select(remaining)
    blobs = remaining["blob_id"].to_pylist()
    names = [f"{h}/{o}/{n}/{p}" for h, o, n, p in zip(
        *(remaining[c].to_pylist() for c in ("host", "owner", "name", "path")), strict=True)]
    for j in np.flatnonzero(~kept):
        i = candidate_index[alive[j]]
        drops[i] = "duplicate" if blobs[j] == blobs[keeper[j]] else "near_duplicate"
        details[i] = names[keeper[j]]
    sizes = Counter(remaining["cluster_id"].to_pylist())
    released = remaining.filter(pa.array(kept))
    released = released.append_column("cluster_size", pa.array(
        [sizes[c] for c in released["cluster_id"].to_pylist()], pa.int32()))
    released = released.append_column("content", rows["content"].take(
        pa.array(candidate_index[alive[kept]], pa.int64())))
    status = [drops[i] or "released" for i in candidate_index]
    cluster_table = pa.table({
        "cluster_id": candidates["cluster_id"], "blob_id": candidates["blob_id"],
        "host": candidates["host"], "owner": candidates["owner"], "name": candidates["name"],
        "path": candidates["path"], "language": candidates["language"],
        "rank": pa.array(rank_all, pa.int32()), "status": status,
    }).sort_by([("cluster_id", "ascending"), ("rank", "ascending")])
    return released, cluster_table


def _write_shards(writer: ShardWriter, released: pa.Table, config: RebuildConfig,
                  progress: Progress) -> list[dict]:
    assignment = shard_of(released["repo_key"], config.shards)
    results = []
    with progress("PII redaction, shards", len(released)) as advance:
        for index in range(config.shards):
            rows = released.filter(pa.array(assignment == index))
            rows = rows.sort_by([(c, "ascending") for c in ("host", "owner", "name", "path")])
            results.append(writer.write(index, rows, advance))
    return results


def _ledger(rows, drops, details, candidate_index, cluster_ids) -> pa.Table:
    cluster = [None] * len(rows)
    for i, value in zip(candidate_index, cluster_ids.to_pylist(), strict=True):
        cluster[i] = value
    return pa.table({
        **{c: rows[c] for c in ("host", "owner", "name", "repo_key", "path", "blob_id",
                                "language", "license_type")},
        "cluster_id": pa.array(cluster, pa.string()),
        "status": pa.array([d or "released" for d in drops], pa.string()),
        "detail": pa.array(details, pa.string()),
    }, schema=LEDGER_SCHEMA).sort_by([("repo_key", "ascending"), ("path", "ascending")])


def _finalize(layout: Layout, release: str, recipe: Recipe, outcome: Outcome,
              previous: Previous | None) -> dict:
    """Write the private files, the catalog, then, last, the manifest."""
    config, private = recipe.config, layout.private
    write_table(private / "ledger.parquet", outcome.ledger, config)
    write_table(private / "clusters.parquet", outcome.clusters, config)
    inputs = _inputs(recipe)
    write_atomic(private / "inputs.json", canonical_json(inputs) + b"\n")
    old_ledger = pq.read_table(previous.layout.private / "ledger.parquet") if previous else None
    log = changelog(old_ledger, outcome.ledger, previous.manifest["release"] if previous
                    else None, release)
    write_atomic(private / "changelog.json", changelog_json(log).encode() + b"\n")
    write_atomic(layout.public / "catalog.jsonl", catalog_lines(outcome.released, release))
    manifest = _manifest(layout, release, recipe, outcome, previous, sha256_json(inputs))
    write_atomic(layout.public / "manifest.json", canonical_json(manifest) + b"\n")
    return manifest


def _inputs(recipe: Recipe) -> list[dict]:
    """The sources; private: a checkout's path and fingerprint name its repository."""
    return [{"source": s.description, "fingerprint": s.fingerprint()} for s in recipe.sources]


def _manifest(layout: Layout, release: str, recipe: Recipe, outcome: Outcome,
              previous: Previous | None, inputs_sha256: str) -> dict:
    config, policy, ledger = recipe.config, recipe.policy, outcome.ledger
    status = Counter(ledger["status"].to_pylist())

    def hashed(root: Path, names: tuple[str, ...]) -> dict:
        return {name: {"path": name, "sha256": sha256_file(root / name)} for name in names}

    released = ledger.filter(pc.equal(ledger["status"], "released"))
    return {
        "format": FORMAT,
        "release": release,
        "previous": None if previous is None else {
            "release": previous.manifest["release"],
            "manifest_sha256": sha256_file(previous.layout.public / "manifest.json")},
        "inputs": {"sources": len(recipe.sources), "sha256": inputs_sha256},
        "exclusion_list": recipe.exclusions.to_json(),
        "policy": {"name": policy.name, "version": policy.version,
                   "sha256": sha256_json(policy.to_json())},
        "config": {**config.to_json(), "sha256": config.sha256()},
        "detectors": {"language": language_detector(), "license": detector_version()},
        "pii": recipe.pii.to_json(),
        "dedup": {"bands_rows": list(dedup.lsh_parameters(config)),
                  "clusters": len(set(outcome.clusters["cluster_id"].to_pylist())),
                  "duplicates": status.get("duplicate", 0),
                  "near_duplicates": status.get("near_duplicate", 0)},
        "filters": dict(sorted((k, v) for k, v in status.items() if k != "released")),
        "shards": outcome.shards,
        "files": hashed(layout.public, ("catalog.jsonl",)),
        "private_files": hashed(layout.private, ("changelog.json", "clusters.parquet",
                                                 "inputs.json", "ledger.parquet")),
        "totals": {"input_files": len(ledger), "released_files": len(released),
                   "repositories": len(set(released["repo_key"].to_pylist())),
                   "redacted_files": outcome.redacted_files,
                   "redactions": outcome.redactions},
    }
