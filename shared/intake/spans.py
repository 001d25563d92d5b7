"""Span post-processing for SQuAD v2 style extractive QA: best span or abstention.

For each window the model gives a start and an end logit per token. A span (i, j) of context
tokens scores ``start[i] + end[j]`` with ``i <= j < i + max_answer_tokens``, where i begins
a word and j ends one (an answer is whole words, never "doc" of "docs"); the [CLS] token
scores the null answer ``start[0] + end[0]``. Over all windows of one question the best span
is compared with the smallest null score: the model answers only when the span beats it by
more than ``threshold`` (the SQuAD v2 evaluation's rule), and otherwise abstains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shared.intake.windows import Context, Window

MAX_ANSWER_TOKENS = 30
DEFAULT_THRESHOLD = 0.0


@dataclass(frozen=True)
class Answer:
    """The best span of the message for one question, or an abstention (``text`` None)."""

    text: str | None
    start: int | None  # character offsets into the message
    end: int | None
    span_score: float  # best start+end logit (-inf when no context token exists)
    null_score: float
    confidence: float  # sigmoid(span_score - null_score): 0.5 means a tie

    @property
    def abstained(self) -> bool:
        return self.text is None


def best_span_in_window(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    first: int,
    count: int,
    max_tokens: int,
    edges: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, int, int]:
    """Return (score, i, j) of the best span among ``count`` tokens from ``first``.

    ``edges`` (from ``Context.word_edges``) says which tokens may begin and end a span.
    """
    if count <= 0:
        return -math.inf, -1, -1
    starts = np.asarray(start_logits[first : first + count], dtype=np.float64)
    ends = np.asarray(end_logits[first : first + count], dtype=np.float64)
    scores = starts[:, None] + ends[None, :]
    i, j = np.indices(scores.shape)
    scores[(j < i) | (j >= i + max_tokens)] = -np.inf
    if edges is not None:
        begins, closes = edges
        scores[~begins, :] = -np.inf
        scores[:, ~closes] = -np.inf
    flat = int(np.argmax(scores))
    row, col = divmod(flat, count)
    return float(scores[row, col]), row, col


def best_answer(
    windows: Sequence[Window],
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    context: Context,
    max_answer_tokens: int = MAX_ANSWER_TOKENS,
    threshold: float = DEFAULT_THRESHOLD,
) -> Answer:
    """Combine the windows of one question (rows of the logits, in order) into one answer."""
    if not windows:
        raise ValueError("no windows to read an answer from")
    if max_answer_tokens < 1:
        raise ValueError("max_answer_tokens must be at least 1")
    best = (-math.inf, -1, -1)
    null = math.inf
    for row, window in enumerate(windows):
        starts, ends = start_logits[row], end_logits[row]
        null = min(null, float(starts[0]) + float(ends[0]))
        score, i, j = best_span_in_window(
            starts,
            ends,
            window.context_start,
            window.token_count,
            max_answer_tokens,
            context.word_edges(window.token_start, window.token_count),
        )
        if score > best[0]:
            best = (score, window.token_start + i, window.token_start + j)
    score, first, last = best
    confidence = _sigmoid(score - null)
    if score == -math.inf or score - null <= threshold:
        return Answer(None, None, None, score, null, confidence)
    start, end = context.offsets[first][0], context.offsets[last][1]
    return Answer(context.text[start:end], start, end, score, null, confidence)


def _sigmoid(x: float) -> float:
    if x == -math.inf:
        return 0.0
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
