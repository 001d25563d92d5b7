"""Export: SafeTensors only, ONNX fp32 + INT8 with a manifest; serving needs no torch."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from shared.intake.model import ModelUnavailable, QAModel, checked_model_file
from shared.intake.questions import QUESTIONS
from shared.intake.synthetic import make_examples

pytest.importorskip("torch")


class Trap:
    """Unpickling this would create a file: proof that a pickle was (not) loaded."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_the_manifest_records_digests_parity_and_versions(tiny_model):
    _, model_dir = tiny_model
    manifest = json.loads((model_dir / "intake.json").read_text())
    assert manifest["architecture"] == "MobileBertForQuestionAnswering"
    assert manifest["layers"] == 2 and manifest["name"] == "tiny-test-model"
    assert set(manifest["sha256"]) == {"model.onnx", "model.int8.onnx"}
    assert manifest["parity"]["fp32"] < 1e-3  # ONNX fp32 computes what torch computes
    assert 0 < manifest["parity"]["int8"] < 10  # INT8 moves logits; answers agree (test_api)
    assert manifest["versions"]["torch"].startswith("2.13.0")
    int8 = (model_dir / "model.int8.onnx").stat().st_size
    assert int8 < 0.5 * (model_dir / "model.onnx").stat().st_size  # INT8 weights


def test_the_tiny_model_learnt_the_synthetic_task(tiny_model):
    """Held-out synthetic messages (another seed): most answers and abstentions right."""
    model = QAModel(tiny_model[1], "int8")
    right = total = abstained_right = null_total = 0
    for example in make_examples(60, seed=12345):
        got = model.answer(example.text, list(QUESTIONS.values()))
        for key, answer in zip(QUESTIONS, got, strict=True):
            span = example.answers[key]
            want = example.text[span[0] : span[1]] if span else None
            right += answer.text == want
            total += 1
            if want is None:
                null_total += 1
                abstained_right += answer.abstained
    assert right / total > 0.8, right / total
    assert abstained_right / null_total > 0.85


def test_pickled_weights_are_refused_and_never_loaded(tmp_path, tiny_model):
    from shared.intake.export import ExportError, export

    checkpoint = tmp_path / "pickled"
    checkpoint.mkdir()
    shutil.copy(tiny_model[0] / "config.json", checkpoint)
    proof = tmp_path / "unpickled"
    (checkpoint / "pytorch_model.bin").write_bytes(pickle.dumps(Trap(str(proof))))
    with pytest.raises(ExportError, match="pytorch_model.bin, which are never loaded"):
        export(checkpoint, tmp_path / "out", report=lambda line: None)
    assert not proof.exists() and not (tmp_path / "out").exists()


def test_a_pickle_beside_safetensors_is_ignored(tmp_path, tiny_model):
    from shared.intake.export import load_checkpoint

    checkpoint = tmp_path / "both"
    shutil.copytree(tiny_model[0], checkpoint)
    proof = tmp_path / "unpickled"
    (checkpoint / "pytorch_model.bin").write_bytes(pickle.dumps(Trap(str(proof))))
    model = load_checkpoint(checkpoint)
    assert model.config.num_hidden_layers == 2 and not proof.exists()


def test_foreign_checkpoints_are_refused(tmp_path, tiny_model):
    from shared.intake.export import ExportError, check_checkpoint, load_checkpoint

    with pytest.raises(ExportError, match="not a checkpoint directory"):
        check_checkpoint(tmp_path / "missing")
    other_vocab = tmp_path / "vocab"
    shutil.copytree(tiny_model[0], other_vocab)
    (other_vocab / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    with pytest.raises(ExportError, match="not bert-base-uncased"):
        check_checkpoint(other_vocab)
    bert = tmp_path / "bert"
    shutil.copytree(tiny_model[0], bert)
    config = json.loads((bert / "config.json").read_text())
    config["model_type"] = "bert"
    (bert / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportError, match="not MobileBERT"):
        load_checkpoint(bert)


def test_the_cli_exports_and_reports_errors_in_one_line(tmp_path, tiny_model):
    from server.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["intake", "export", str(tiny_model[0]), str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "intake.json").is_file()
    assert checked_model_file(tmp_path / "m", "int8").name == tiny_model[0].name
    result = runner.invoke(main, ["intake", "export", str(tmp_path / "none"), str(tmp_path / "x")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("error: ")


def test_a_model_file_that_changed_is_refused(tmp_path, tiny_model):
    copy = tmp_path / "m"
    shutil.copytree(tiny_model[1], copy)
    (copy / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable) as caught:
        QAModel(copy, "fp32")
    assert caught.value.code == "model_checksum_mismatch"
    assert QAModel(copy, "int8").info.variant == "int8"  # the other file is intact
    with pytest.raises(ModelUnavailable) as caught:
        QAModel(copy, "fp16")
    assert caught.value.code == "model_variant_invalid"


SERVING = """
import sys
from shared.intake import load_intake
engine = load_intake(sys.argv[1])
result = engine.run("Please remove the repository tidal-api of kestrel-analytics on GitHub.")
assert result["mode"] == "parser+model", result["model"]
print(sorted(m for m in ("torch", "transformers") if m in sys.modules))
"""


def test_serving_never_imports_torch(tiny_model):
    out = subprocess.run(
        [sys.executable, "-c", SERVING, str(tiny_model[1])],
        capture_output=True, text=True, check=True, timeout=120,
    )
    assert out.stdout.strip() == "[]"
