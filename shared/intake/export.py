"""Convert a MobileBERT QA checkpoint (SafeTensors only) to ONNX fp32 and dynamic INT8.

The checkpoint is a local directory, as downloaded from a model hub (``config.json`` and
``model.safetensors``). Pickled weights (``pytorch_model.bin``, ``*.pt``, ``*.ckpt``) are
never loaded: unpickling a file runs whatever code it holds. Nothing is fetched: loading is
``local_files_only``. The result is a model directory for ``shared.intake.model.QAModel``,
its manifest written last, so an interrupted export never loads.

Needs the ``export`` extra: torch==2.13.0, transformers, safetensors, onnx, onnxscript.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shared.intake.model import FORMAT, MANIFEST, VARIANTS
from shared.intake.vocab import VOCAB_SHA256, VOCAB_SIZE, sha256_file

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUTS = ("start_logits", "end_logits")
OPSET = 18


class ExportError(RuntimeError):
    """The checkpoint cannot be exported (missing, pickled, wrong family or vocabulary)."""


def check_checkpoint(src: Path) -> list[Path]:
    """Return the SafeTensors files of ``src``, refusing pickles and foreign vocabularies."""
    if not src.is_dir():
        raise ExportError(f"{src} is not a checkpoint directory")
    if not (src / "config.json").is_file():
        raise ExportError(f"{src} has no config.json")
    weights = sorted(src.glob("*.safetensors"))
    pickles = sorted(p.name for p in src.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if not weights:
        found = f" (found pickled weights {', '.join(pickles)}, which are never loaded)"
        raise ExportError(f"{src} has no .safetensors weights{found if pickles else ''}")
    vocab = src / "vocab.txt"
    if vocab.is_file() and sha256_file(vocab) != VOCAB_SHA256:
        raise ExportError(f"{vocab} is not bert-base-uncased's vocabulary; refusing it")
    return weights


def load_checkpoint(src: Path):
    """Load a MobileBertForQuestionAnswering from SafeTensors, never from a pickle."""
    from transformers import MobileBertConfig, MobileBertForQuestionAnswering

    check_checkpoint(src)
    config = MobileBertConfig.from_pretrained(src, local_files_only=True)
    if config.model_type != "mobilebert":
        raise ExportError(f"{src} is a {config.model_type} model, not MobileBERT")
    if config.vocab_size != VOCAB_SIZE:
        raise ExportError(f"{src} has a vocabulary of {config.vocab_size}, not {VOCAB_SIZE}")
    model = MobileBertForQuestionAnswering.from_pretrained(
        src, use_safetensors=True, local_files_only=True
    )
    return model.eval()


def to_onnx(model, path: Path) -> None:
    """Export with dynamic batch and sequence axes (the torch.export-based exporter)."""
    import torch

    ids = torch.randint(1000, 2000, (2, 24))
    mask = torch.ones_like(ids)
    mask[1, 16:] = 0  # trace the padding path too
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=512)
    dims = {name: {0: batch, 1: seq} for name in INPUTS}
    sample = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    with _quiet(), torch.no_grad():
        torch.onnx.export(
            model,
            (),
            str(path),
            kwargs=sample,
            input_names=list(INPUTS),
            output_names=list(OUTPUTS),
            dynamic_shapes=dims,
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )


def quantize(src: Path, dest: Path) -> None:
    """Dynamic INT8 quantisation of the weights (activations stay float, scaled per batch)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(str(src), str(dest), weight_type=QuantType.QInt8)


@contextlib.contextmanager
def _quiet():
    """Silence the exporters' progress lines and deprecation chatter (not our warnings)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(None):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def parity(model, onnx_path: Path, seed: int = 0) -> float:
    """Return the largest |torch - onnx| start/end logit on a padded random batch."""
    import onnxruntime
    import torch

    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, 20000, (3, 40)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 25:] = 0
    types = np.zeros_like(ids)
    types[:, 10:] = 1
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(list(OUTPUTS), dict(zip(INPUTS, (ids, mask, types), strict=True)))
    with torch.no_grad():
        want = model(*(torch.from_numpy(a) for a in (ids, mask, types)))
    diffs = [
        np.abs(g - w.numpy())[mask == 1].max()
        for g, w in zip(got, (want.start_logits, want.end_logits), strict=True)
    ]
    return float(max(diffs))


def export(
    src: Path, dest: Path, name: str | None = None, report: Callable[[str], None] = print
) -> dict:
    """Export ``src`` into the model directory ``dest`` and return its manifest."""
    import onnxruntime
    import torch
    import transformers

    model = load_checkpoint(src)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MANIFEST).unlink(missing_ok=True)  # the old model stops loading at once
    fp32, int8 = dest / VARIANTS["fp32"], dest / VARIANTS["int8"]
    report(f"exporting {src} to ONNX (opset {OPSET})")
    to_onnx(model, fp32)
    report("quantising to INT8 (dynamic)")
    quantize(fp32, int8)
    fp32_diff, int8_diff = parity(model, fp32), parity(model, int8)
    report(f"max |torch - onnx| logit: fp32 {fp32_diff:.2e}, int8 {int8_diff:.2e}")
    manifest = {
        "format": FORMAT,
        "name": name or src.resolve().name,
        "source": str(src.resolve()),
        "architecture": "MobileBertForQuestionAnswering",
        "layers": model.config.num_hidden_layers,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_sha256": VOCAB_SHA256,
        "opset": OPSET,
        "sha256": {fp32.name: sha256_file(fp32), int8.name: sha256_file(int8)},
        "parity": {"fp32": fp32_diff, "int8": int8_diff},
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    partial = dest / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    partial.replace(dest / MANIFEST)
    report(f"wrote {dest / MANIFEST}")
    return manifest
