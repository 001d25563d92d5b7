"""The datatrove step drops exactly the covered documents under the local executor."""

from __future__ import annotations

import json

import pytest

from shared.exclusions.format import Matcher, build_body
from tests.shared.test_exclusions_apply import ROWS, RULES, make_state

pytest.importorskip("datatrove")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_local_executor_drops_the_covered_documents(tmp_path):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from shared.exclusions.datatrove_step import ExclusionFilter

    data = tmp_path / "in"
    data.mkdir()
    with open(data / "docs.jsonl", "w") as handle:
        for i, (host, owner, name, path, blob, _) in enumerate(ROWS):
            handle.write(json.dumps({"id": str(i), "text": f"code {i}", "host": host,
                                     "owner": owner, "name": name, "path": path,
                                     "blob_id": blob}) + "\n")
    state, trust = make_state(tmp_path)
    step = ExclusionFilter(state, [trust.read_text().strip()], batch_size=4,
                           exclusion_writer=JsonlWriter(str(tmp_path / "dropped"),
                                                        compression=None))
    executor = LocalPipelineExecutor(
        pipeline=[JsonlReader(str(data)), step,
                  JsonlWriter(str(tmp_path / "out"), compression=None)],
        tasks=1, workers=1, logging_dir=str(tmp_path / "logs"))
    executor.run()
    kept = [json.loads(line) for f in sorted((tmp_path / "out").iterdir())
            for line in f.read_text().splitlines()]
    assert sorted(int(d["id"]) for d in kept) == [i for i, r in enumerate(ROWS) if r[5] is None]
    dropped = [json.loads(line) for f in sorted((tmp_path / "dropped").iterdir())
               for line in f.read_text().splitlines()]
    assert {d["metadata"]["filter_reason"] for d in dropped} == {
        "excluded_owner", "excluded_repository", "excluded_file", "excluded_content"}


def test_the_step_fails_closed_without_a_list(tmp_path):
    from shared.exclusions.datatrove_step import ExclusionFilter
    from shared.exclusions.pull import StateError

    with pytest.raises(StateError):
        ExclusionFilter(tmp_path / "none", ["key"])
    assert ExclusionFilter(matcher=Matcher(build_body(RULES))).needed[-1] == "blob_id"
