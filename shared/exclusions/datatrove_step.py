"""A datatrove pipeline step that drops documents an exclusion list covers, a batch at a time.

The identity of a document is read from its metadata (keys as in ``Columns``: ``host``,
``owner``, ``name``, ``path``, ``blob_id`` by default). Each batch of documents becomes one
Arrow table and goes through the same vectorised ``BatchMatcher`` as ``optout exclusions
apply``; FIELD-NOTES measured a pyarrow step inside datatrove at 2.5M rows/s against 34k
for one document at a time. The list is loaded and verified when the step is built, on the
machine that launches the pipeline, so a missing or expired list stops the launch (fail
closed); the verified rules travel to the workers pickled with the step.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pyarrow as pa
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from shared.exclusions.apply import BatchMatcher, Columns
from shared.exclusions.format import Matcher
from shared.exclusions.pull import load_verified


class ExclusionFilter(BaseFilter):
    """Drop documents covered by the verified list in ``state_dir`` (or by ``matcher``)."""

    name = "🚫 Opt-out exclusions"

    def __init__(
        self,
        state_dir: str | os.PathLike | None = None,
        trust: Iterable[str] = (),
        *,
        matcher: Matcher | None = None,
        columns: Columns | None = None,
        max_age_days: float | None = None,
        batch_size: int = 10_000,
        exclusion_writer=None,
    ) -> None:
        super().__init__(exclusion_writer=exclusion_writer, batch_size=batch_size)
        if matcher is None:
            if state_dir is None:
                raise ValueError("pass the pull state directory or a Matcher")
            _, matcher = load_verified(state_dir, list(trust), max_age_days=max_age_days)
        self.matcher = matcher
        self.columns = columns or Columns()
        self.needed = self.columns.required(matcher)
        self.batches = BatchMatcher(matcher, self.columns)  # built once, pickled to workers

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        table = pa.table({key: pa.array([doc.metadata.get(key) for doc in batch], pa.string())
                          for key in self.needed})
        ids = self.batches.rule_ids(table)
        rules = self.matcher.rules
        return [True if i < 0 else (False, f"excluded_{rules[i]['kind']}") for i in ids]
