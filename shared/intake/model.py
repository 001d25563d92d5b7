"""The QA model at serving time: ONNX Runtime over a model directory, no torch.

A model directory holds ``intake.json`` (what the model is and the SHA-256 of each file),
``model.onnx`` (fp32) and ``model.int8.onnx`` (dynamic INT8 quantisation). ``optout intake
export`` writes it from a SafeTensors checkpoint. Every file is checked against its digest
before a session is made, and the vocabulary against bert-base-uncased's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.intake import spans, windows
from shared.intake.vocab import VOCAB_SHA256, load_tokenizer, sha256_file, special_ids

MANIFEST = "intake.json"
FORMAT = 1
VARIANTS = {"fp32": "model.onnx", "int8": "model.int8.onnx"}


class ModelUnavailable(RuntimeError):
    """No usable model: not installed, not configured, or failing its checks."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ModelInfo:
    name: str
    source: str
    variant: str
    path: Path
    sha256: str


def read_manifest(model_dir: Path) -> dict:
    path = model_dir / MANIFEST
    if not path.is_file():
        raise ModelUnavailable("model_not_found", f"{path} does not exist")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ModelUnavailable("model_manifest_invalid", f"{path}: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelUnavailable("model_manifest_invalid", f"{path} is not format {FORMAT}")
    if manifest.get("vocab_sha256") != VOCAB_SHA256:
        raise ModelUnavailable(
            "model_vocab_mismatch", f"{path} was exported for another vocabulary"
        )
    return manifest


def checked_model_file(model_dir: Path, variant: str) -> ModelInfo:
    """Return the model file of ``variant`` once its SHA-256 matches the manifest."""
    if variant not in VARIANTS:
        raise ModelUnavailable("model_variant_invalid", f"variant must be one of {list(VARIANTS)}")
    manifest = read_manifest(model_dir)
    path = model_dir / VARIANTS[variant]
    expected = (manifest.get("sha256") or {}).get(VARIANTS[variant])
    if not path.is_file() or not expected:
        raise ModelUnavailable("model_not_found", f"{path} is missing or not in the manifest")
    actual = sha256_file(path)
    if actual != expected:
        raise ModelUnavailable(
            "model_checksum_mismatch", f"{path} has SHA-256 {actual}, the manifest says {expected}"
        )
    return ModelInfo(
        str(manifest.get("name", "unnamed")), str(manifest.get("source", "")), variant, path, actual
    )


class QAModel:
    """An extractive QA model answering many questions about one message in one batch."""

    def __init__(self, model_dir: str | Path, variant: str = "int8", threads: int = 1):
        try:
            import onnxruntime
        except ImportError:
            raise ModelUnavailable(
                "onnxruntime_not_installed",
                "onnxruntime is not installed (pip install 'optout[intake]')",
            ) from None
        self.info = checked_model_file(Path(model_dir), variant)
        self.tokenizer = load_tokenizer()
        ids = special_ids(self.tokenizer)
        self.cls_id, self.sep_id, self.pad_id = ids["[CLS]"], ids["[SEP]"], ids["[PAD]"]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(
                str(self.info.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own, unexported types
            raise ModelUnavailable("model_load_failed", f"{self.info.path}: {error}") from None
        self.input_names = {i.name for i in self.session.get_inputs()}
        self._questions: dict[str, list[int]] = {}

    def _question_ids(self, question: str) -> list[int]:
        if question not in self._questions:
            self._questions[question] = windows.tokenize_question(self.tokenizer, question)
        return self._questions[question]

    def logits(self, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        feed = {k: v for k, v in arrays.items() if k in self.input_names}
        start, end = self.session.run(["start_logits", "end_logits"], feed)
        return start, end

    def answer(
        self,
        text: str,
        questions: list[str],
        max_answer_tokens: int = spans.MAX_ANSWER_TOKENS,
        threshold: float = spans.DEFAULT_THRESHOLD,
    ) -> list[spans.Answer]:
        """Answer every question about ``text``; each answer is a span or an abstention."""
        context = windows.tokenize_context(self.tokenizer, text)
        qids = [self._question_ids(q) for q in questions]
        cut = windows.make_windows(qids, context, self.cls_id, self.sep_id)
        start, end = self.logits(windows.batch_arrays(cut, self.pad_id))
        answers = []
        for q in range(len(questions)):
            rows = [r for r, w in enumerate(cut) if w.question == q]
            answers.append(
                spans.best_answer(
                    [cut[r] for r in rows],
                    start[rows],
                    end[rows],
                    context,
                    max_answer_tokens,
                    threshold,
                )
            )
        return answers
