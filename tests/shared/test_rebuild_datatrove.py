"""The rebuild's datatrove form releases what ``rebuild`` releases, under the local executor."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from shared.exclusions.format import Matcher, build_body, repository_rule
from shared.rebuild import ExclusionList, discover, rebuild
from tests.shared.rebuild_corpus import AWS_KEY, corpus

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_two_stage_datatrove_pipeline_matches_the_local_rebuild(tmp_path):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from shared.exclusions.datatrove_step import ExclusionFilter
    from shared.rebuild.datatrove_steps import (
        AnnotationFilter,
        ClusterSelect,
        MinhashStep,
        PIIRedactor,
        RebuildReader,
    )

    corpus(tmp_path / "repos")
    matcher = Matcher(build_body([repository_rule("gitlab.com", "erin", "optout-me")]))
    rebuild(discover([tmp_path / "repos"]), tmp_path / "local", "v1",
            ExclusionList(matcher, 1, "0" * 64, "0" * 64))
    expected = {(r["repo_key"], r["path"]) for r in pq.read_table(
        tmp_path / "local.private" / "ledger.parquet").to_pylist() if r["status"] == "released"}

    dropped = tmp_path / "dropped"
    stage1 = LocalPipelineExecutor(pipeline=[
        RebuildReader([str(tmp_path / "repos")]),
        AnnotationFilter(exclusion_writer=JsonlWriter(str(dropped), compression=None)),
        ExclusionFilter(matcher=matcher),
        MinhashStep(),
        JsonlWriter(str(tmp_path / "annotated"), compression=None),
    ], tasks=2, workers=1, logging_dir=str(tmp_path / "logs1"))
    stage2 = LocalPipelineExecutor(pipeline=[
        JsonlReader(str(tmp_path / "annotated"), compression=None),
        ClusterSelect(),
        PIIRedactor(),
        JsonlWriter(str(tmp_path / "release"), compression=None),
    ], tasks=1, workers=1, logging_dir=str(tmp_path / "logs2"), depends=stage1)
    stage2.run()

    released = [json.loads(line) for f in sorted((tmp_path / "release").iterdir())
                for line in f.read_text().splitlines()]
    assert {(d["metadata"]["repo_key"], d["metadata"]["path"]) for d in released} == expected
    settings = next(d for d in released if d["metadata"]["path"] == "src/settings.py")
    assert AWS_KEY not in settings["text"] and settings["metadata"]["redactions"] == 3
    reasons = {json.loads(line)["metadata"]["filter_reason"]
               for f in dropped.iterdir() for line in f.read_text().splitlines()}
    assert reasons == {"binary", "generated", "vendored", "license_non_permissive"}
