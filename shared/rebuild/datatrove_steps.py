"""The rebuild's stages as datatrove pipeline steps, for Local, Slurm or Ray executors.

Two pipelines, the second depending on the first (see the README for a Slurm example)::

    stage 1 (tasks = N):  RebuildReader -> AnnotationFilter -> ExclusionFilter
                          -> MinhashStep -> ParquetWriter(folder A)
    stage 2 (tasks = 1):  ParquetReader(folder A) -> ClusterSelect -> PIIRedactor
                          -> ParquetWriter(release data)

``RebuildReader`` gives task ``rank`` every ``world_size``-th source and yields one
document per file, annotated exactly as ``optout rebuild`` annotates it (identity, content
filters, language, license scopes). ``AnnotationFilter`` drops what annotation dropped, with
the same reason codes, and the exclusion list's ``ExclusionFilter`` runs on the same metadata.
``MinhashStep`` adds each file's signature. ``ClusterSelect`` is the one global step: it
clusters all signatures (``dedup.near_clusters``) and keeps the best-ranked copy of each
cluster; it needs every document, hence one task. Here the list is applied before clustering
(each step is a filter), where ``optout rebuild`` clusters first so that clusters survive
opt-outs; the released copies are the same unless an excluded file was the only link
between two near-duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from shared.licenses.policy import DEFAULT_POLICY, Policy
from shared.pii import Scanner, redact
from shared.rebuild import dedup
from shared.rebuild.annotate import StageClock, annotate
from shared.rebuild.config import RebuildConfig
from shared.rebuild.inputs import discover

METADATA = ("host", "owner", "name", "repo_key", "path", "size", "blob_id", "language",
            "license_expression", "license_type", "license_scope", "directory_swhid",
            "revision", "created", "stars", "drop")


class RebuildReader(PipelineStep):
    """Yield one annotated document per file of the sources this task owns."""

    name = "📂 Rebuild sources"
    type = "📖 - READER"

    def __init__(self, inputs: Iterable[str], config: RebuildConfig | None = None,
                 policy: Policy = DEFAULT_POLICY, default_host: str | None = None) -> None:
        super().__init__()
        self.inputs = [str(p) for p in inputs]
        self.config = config or RebuildConfig()
        self.policy = policy
        self.default_host = default_host or self.config.default_host

    def run(self, data: DocumentsPipeline = None, rank: int = 0,
            world_size: int = 1) -> DocumentsPipeline:
        from pathlib import Path

        sources = discover([Path(p) for p in self.inputs], self.default_host)
        cache: dict = {}
        for index, source in enumerate(sources):
            if index % world_size != rank:
                continue
            for snapshot in source.snapshots():
                table = annotate(snapshot, self.config, self.policy, cache, StageClock())
                yield from _documents(table)


def _documents(table: pa.Table) -> Iterable[Document]:
    columns = {name: table[name].to_pylist() for name in METADATA}
    for i, content in enumerate(table["content"].to_pylist()):
        metadata = {name: columns[name][i] for name in METADATA}
        text = content.decode("utf-8", "replace")  # only dropped files are not UTF-8
        yield Document(text=text, id=f"{metadata['repo_key']}/{metadata['path']}",
                       metadata=metadata)


class AnnotationFilter(BaseFilter):
    """Drop the files annotation dropped; the reason is datatrove's ``filter_reason``."""

    name = "🏷 Rebuild filters"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reason = doc.metadata.get("drop")
        return True if reason is None else (False, reason)


class MinhashStep(PipelineStep):
    """Add ``metadata['minhash']`` (hex of the signature, or None) in batches."""

    name = "#️⃣ MinHash signatures"
    type = "🔢 - DEDUP"

    def __init__(self, config: RebuildConfig | None = None, batch_size: int = 2048) -> None:
        super().__init__()
        self.config = config or RebuildConfig()
        self.batch_size = batch_size

    def run(self, data: DocumentsPipeline = None, rank: int = 0,
            world_size: int = 1) -> DocumentsPipeline:
        batch: list[Document] = []
        for doc in data or []:
            batch.append(doc)
            if len(batch) >= self.batch_size:
                yield from self._signed(batch)
                batch = []
        yield from self._signed(batch)

    def _signed(self, batch: list[Document]) -> Iterable[Document]:
        contents = [d.text.encode("utf-8") for d in batch]
        for doc, signature in zip(batch, dedup.signatures(contents, self.config), strict=True):
            doc.metadata["minhash"] = signature.hex() if signature else None
            yield doc


class ClusterSelect(PipelineStep):
    """Cluster every document's signature and keep the best-ranked copy per cluster."""

    name = "🫂 Cluster and select"
    type = "🔢 - DEDUP"

    def __init__(self, config: RebuildConfig | None = None) -> None:
        super().__init__()
        self.config = config or RebuildConfig()

    def run(self, data: DocumentsPipeline = None, rank: int = 0,
            world_size: int = 1) -> DocumentsPipeline:
        if world_size != 1:
            raise ValueError("ClusterSelect needs every document: run it with tasks=1")
        docs = list(data or [])
        by_language: dict[str, list[tuple[str, bytes]]] = {}
        seen = set()
        for doc in docs:
            blob, signature = doc.metadata["blob_id"], doc.metadata.get("minhash")
            if signature and (doc.metadata["language"], blob) not in seen:
                seen.add((doc.metadata["language"], blob))
                by_language.setdefault(doc.metadata["language"] or "", []).append(
                    (blob, bytes.fromhex(signature)))
        found = dedup.near_clusters(by_language, self.config) if self.config.near_dedup else {}
        table = pa.table({
            **{k: [d.metadata.get(k) for d in docs] for k in (
                "host", "owner", "name", "path", "license_type")},
            "stars": pa.array([d.metadata.get("stars") for d in docs], pa.int64()),
            "created": pa.array([d.metadata.get("created") for d in docs], pa.int64()),
            "cluster_id": [found.get(d.metadata["blob_id"], d.metadata["blob_id"])
                           for d in docs],
        })
        kept, _, _ = dedup.select(table) if docs else ([], None, None)
        for doc, keep, cluster in zip(docs, kept, table["cluster_id"].to_pylist(), strict=True):
            if keep:
                doc.metadata["cluster_id"] = cluster
                self.stat_update("kept")
                yield doc
            else:
                self.stat_update("duplicate")


class PIIRedactor(PipelineStep):
    """Redact PII in each document, leaving reviewers' false positives alone."""

    name = "🕵 PII redaction"
    type = "✂️ - FORMAT"

    def __init__(self, key: bytes | None = None, false_positives: frozenset = frozenset(),
                 config: RebuildConfig | None = None) -> None:
        super().__init__()
        self.key, self.false_positives = key, false_positives
        self.config = config or RebuildConfig()

    def run(self, data: DocumentsPipeline = None, rank: int = 0,
            world_size: int = 1) -> DocumentsPipeline:
        scanner = Scanner(key=self.key, sensitivity=self.config.pii_sensitivity)
        for doc in data or []:
            data_bytes = doc.text.encode("utf-8")
            findings = [f for f in scanner.scan_bytes(data_bytes, doc.metadata["path"])
                        if (f.fingerprint, f.rule) not in self.false_positives]
            if findings:
                doc.text = redact(doc.text, findings,
                                  pseudonymize_ips=self.config.pseudonymize_ips)
            doc.metadata["redactions"] = len(findings)
            yield doc
