"""Question/context windows: [CLS] question [SEP] context-part [SEP], 384 tokens, stride 128.

A long message is cut into overlapping windows so that every answer lies wholly inside at
least one of them; ``stride`` is how many context tokens consecutive windows share (the
convention of the SQuAD scripts). All windows of all questions go to the model in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_LENGTH = 384
STRIDE = 128
MAX_QUESTION_TOKENS = 64


@dataclass(frozen=True)
class Context:
    """A message tokenised once: its WordPiece ids and each token's character span."""

    text: str
    ids: list[int]
    offsets: list[tuple[int, int]]


@dataclass(frozen=True)
class Window:
    """One model input: a question and a slice of the context."""

    question: int  # index into the question list
    ids: list[int]
    type_ids: list[int]
    context_start: int  # position of the first context token in ``ids``
    token_start: int  # index of that token in ``Context.ids``
    token_count: int


def tokenize_context(tokenizer, text: str) -> Context:
    encoding = tokenizer.encode(text, add_special_tokens=False)
    return Context(text, list(encoding.ids), [tuple(o) for o in encoding.offsets])


def tokenize_question(tokenizer, question: str) -> list[int]:
    ids = tokenizer.encode(question, add_special_tokens=False).ids
    return list(ids[:MAX_QUESTION_TOKENS])


def make_windows(
    question_ids: list[list[int]],
    context: Context,
    cls_id: int,
    sep_id: int,
    max_length: int = MAX_LENGTH,
    stride: int = STRIDE,
) -> list[Window]:
    """Cut the context into overlapping windows for every question."""
    windows = []
    for q, qids in enumerate(question_ids):
        room = max_length - len(qids) - 3
        if room <= stride:
            raise ValueError(f"max_length {max_length} leaves no room beyond stride {stride}")
        head = [cls_id, *qids, sep_id]
        start = 0
        while True:
            part = context.ids[start : start + room]
            ids = [*head, *part, sep_id]
            type_ids = [0] * len(head) + [1] * (len(part) + 1)
            windows.append(Window(q, ids, type_ids, len(head), start, len(part)))
            if start + room >= len(context.ids):
                break
            start += room - stride
    return windows


def batch_arrays(windows: list[Window], pad_id: int = 0) -> dict[str, np.ndarray]:
    """Pad the windows to the longest one and return the model's three int64 inputs."""
    width = max(len(w.ids) for w in windows)
    ids = np.full((len(windows), width), pad_id, dtype=np.int64)
    types = np.zeros((len(windows), width), dtype=np.int64)
    mask = np.zeros((len(windows), width), dtype=np.int64)
    for row, window in enumerate(windows):
        n = len(window.ids)
        ids[row, :n] = window.ids
        types[row, :n] = window.type_ids
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
