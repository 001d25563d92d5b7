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
    """A message tokenised once: its WordPiece ids, each token's character span and word.

    ``words`` numbers the pre-tokenised words ("docs" is one word of two pieces, doc ##s;
    punctuation is a word of its own); None treats every token as a word.
    """

    text: str
    ids: list[int]
    offsets: list[tuple[int, int]]
    words: list[int] | None = None

    def word_edges(self, first: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Which of ``count`` tokens from ``first`` may begin, and which may end, an answer.

        An answer is whole words: it never begins on a continuation piece nor ends before
        one (the null answer aside, "doc" is not an answer found in "docs").
        """
        if self.words is None:
            every = np.ones(count, dtype=bool)
            return every, every
        words = np.asarray(self.words[first : first + count])
        before = self.words[first - 1] if first > 0 else None
        after = self.words[first + count] if first + count < len(self.words) else None
        begins = words != np.concatenate(([-1 if before is None else before], words[:-1]))
        ends = words != np.concatenate((words[1:], [-1 if after is None else after]))
        return begins, ends


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
    return Context(
        text,
        list(encoding.ids),
        [tuple(o) for o in encoding.offsets],
        [-1 if w is None else w for w in encoding.word_ids],
    )


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
