"""The real architecture: a random full-size MobileBERT exports, quantises and loads.

Kept cheap: one export (torch.export traces the 24 layers once, which is most of the time),
torch runs only inside export's parity check on a short batch, and the engine answers one
short message per variant, plus one message long enough for several windows in INT8.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")


@pytest.mark.slow
def test_a_random_full_size_mobilebert_exports_quantises_and_serves(tmp_path):
    import torch
    from transformers import MobileBertConfig, MobileBertForQuestionAnswering

    from shared.intake import load_intake
    from shared.intake.export import export

    torch.manual_seed(0)
    config = MobileBertConfig()  # the defaults are MobileBERT's: 24 layers, 4 FFNs, NoNorm
    assert (config.num_hidden_layers, config.hidden_size, config.vocab_size) == (24, 512, 30522)
    assert (config.normalization_type, config.num_feedforward_networks) == ("no_norm", 4)
    MobileBertForQuestionAnswering(config).save_pretrained(tmp_path / "checkpoint")
    manifest = export(tmp_path / "checkpoint", tmp_path / "model", report=lambda line: None)
    assert manifest["layers"] == 24 and manifest["parameters"] > 20_000_000
    assert manifest["parity"]["fp32"] < 1e-2
    sizes = {name: (tmp_path / "model" / name).stat().st_size for name in manifest["sha256"]}
    assert sizes["model.int8.onnx"] < 0.4 * sizes["model.onnx"]
    assert json.loads((tmp_path / "model" / "intake.json").read_text()) == manifest
    short = "Please remove the repository widgets of kestrel on GitHub."
    for variant, message in (("fp32", short), ("int8", short), ("int8", (short + " ") * 60)):
        engine = load_intake(tmp_path / "model", variant)
        assert engine.model is not None, engine.unavailable
        assert engine.model.info.variant == variant
        result = engine.run(message)  # the long one is ~700 tokens: windows per question
        assert result["mode"] == "parser+model" and len(result["answers"]) == 6
        for answer in result["answers"]:
            if not answer["abstained"]:
                assert message[answer["start"] : answer["end"]] == answer["text"]
