"""Free-text intake: propose structured requests from prose, or abstain; never submit.

``Intake.run(text)`` reads the message with the owners' scope parser and, when a model is
installed, asks the extractive QA model the questions of ``questions.QUESTIONS``; the
result holds proposals (each field with its supporting span and a confidence), the model's
answers and abstentions, and whether a model took part. Without a model the parser works
alone and the result says so.
"""

from __future__ import annotations

from pathlib import Path

from shared.intake.model import ModelUnavailable, QAModel
from shared.intake.propose import Parsed, Proposal, propose
from shared.intake.questions import QUESTIONS
from shared.intake.spans import DEFAULT_THRESHOLD, MAX_ANSWER_TOKENS, Answer

MAX_TEXT = 20_000
NEXT = (
    "Nothing has been submitted. A person checks each complete proposal with the sender and "
    "submits it with POST /api/v1/requests (its 'request' body); the owner then confirms the "
    "scope with the status link."
)

__all__ = ["Intake", "ModelUnavailable", "MAX_TEXT", "load_intake"]


class Intake:
    """The intake assistant: the scope parser, plus a QA model when one is available."""

    def __init__(
        self,
        model: QAModel | None = None,
        unavailable: ModelUnavailable | None = None,
        max_answer_tokens: int = MAX_ANSWER_TOKENS,
        threshold: float = DEFAULT_THRESHOLD,
    ):
        self.model = model
        self.unavailable = unavailable
        self.max_answer_tokens = max_answer_tokens
        self.threshold = threshold

    def model_status(self) -> dict:
        if self.model is not None:
            info = self.model.info
            return {
                "available": True,
                "name": info.name,
                "variant": info.variant,
                "sha256": info.sha256,
                "threshold": self.threshold,
                "message": f"QA model {info.name} ({info.variant}) answers the prose",
            }
        reason = self.unavailable or ModelUnavailable("model_not_configured", "no model")
        return {
            "available": False,
            "code": reason.code,
            "message": f"no QA model: {reason.message}; the scope parser worked alone",
        }

    def ask(self, text: str) -> dict[str, Answer]:
        if self.model is None:
            return {}
        fields = list(QUESTIONS)
        answers = self.model.answer(
            text, [QUESTIONS[f] for f in fields], self.max_answer_tokens, self.threshold
        )
        return dict(zip(fields, answers, strict=True))

    def run(self, text: str, default_host: str | None = None) -> dict:
        """Propose requests for one message (JSON-ready); submits nothing."""
        if len(text) > MAX_TEXT:
            raise ValueError(f"a message is limited to {MAX_TEXT} characters")
        answers = self.ask(text)
        proposals, parsed, refused = propose(text, answers, default_host)
        return {
            "mode": "parser+model" if self.model is not None else "parser",
            "model": self.model_status(),
            "proposals": [p.to_dict() for p in proposals],
            "answers": [_answer_dict(f, a, refused.get(f)) for f, a in answers.items()],
            "addresses": [_parsed_dict(p) for p in parsed],
            "submitted": False,
            "next": NEXT,
        }


def load_intake(
    model_dir: str | Path | None,
    variant: str = "int8",
    threads: int = 1,
    max_answer_tokens: int = MAX_ANSWER_TOKENS,
    threshold: float = DEFAULT_THRESHOLD,
) -> Intake:
    """Load the model if one is configured and usable; otherwise the parser works alone."""
    model, unavailable = None, None
    if not model_dir:
        unavailable = ModelUnavailable(
            "model_not_configured", "no model directory is configured (INTAKE_MODEL_DIR)"
        )
    else:
        try:
            model = QAModel(model_dir, variant, threads)
        except ModelUnavailable as error:
            unavailable = error
        except Exception as error:  # noqa: BLE001 - e.g. the vocabulary check
            unavailable = ModelUnavailable(getattr(error, "code", "model_load_failed"), str(error))
    return Intake(model, unavailable, max_answer_tokens, threshold)


def _answer_dict(key: str, answer: Answer, refused: str | None) -> dict:
    return {
        "field": key,
        "question": QUESTIONS[key],
        "abstained": answer.abstained,
        "text": answer.text,
        "start": answer.start,
        "end": answer.end,
        "confidence": round(answer.confidence, 4),
        "refused": refused,
    }


def _parsed_dict(p: Parsed) -> dict:
    scope = None
    if p.scope is not None:
        scope = {k: getattr(p.scope, k) for k in ("kind", "host", "owner", "name", "path", "line")}
    error = {"code": p.error.code, "message": p.error.message} if p.error else None
    c = p.candidate
    return {
        "text": c.text,
        "start": c.start,
        "end": c.end,
        "scope": scope,
        "error": error,
        "note": p.note,
    }


__all__ += ["Answer", "Proposal"]
