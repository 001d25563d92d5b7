"""Span post-processing on hand-made logits: best span, max length, null score, windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shared.intake.spans import best_answer, best_span_in_window
from shared.intake.windows import Context, Window

# "remove acme widgets now": four context tokens with their character spans.
TEXT = "remove acme widgets now"
CONTEXT = Context(TEXT, [11, 12, 13, 14], [(0, 6), (7, 11), (12, 19), (20, 23)])
# [CLS] q q [SEP] remove acme widgets now [SEP]: the context starts at position 4.
WINDOW = Window(0, [101, 5, 6, 102, 11, 12, 13, 14, 102], [0, 0, 0, 0, 1, 1, 1, 1, 1], 4, 0, 4)


def logits(**at: float) -> np.ndarray:
    """A row of 9 logits, -10 everywhere except at the given positions (p0..p8)."""
    row = np.full(9, -10.0)
    for key, value in at.items():
        row[int(key[1:])] = value
    return row


def answer(start, end, **kwargs):
    return best_answer([WINDOW], np.array([start]), np.array([end]), CONTEXT, **kwargs)


def test_the_best_span_wins_and_maps_to_characters():
    got = answer(logits(p0=0, p5=5, p4=1), logits(p0=0, p6=4, p7=1))
    assert (got.text, got.start, got.end) == ("acme widgets", 7, 19)
    assert got.span_score == 9 and got.null_score == 0
    assert got.confidence == pytest.approx(1 / (1 + math.exp(-9)))
    assert not got.abstained


def test_the_null_answer_wins_when_cls_scores_higher():
    got = answer(logits(p0=6, p5=2), logits(p0=6, p6=2))
    assert got.abstained and got.text is None and got.start is None
    assert got.null_score == 12 and got.span_score == 4
    assert got.confidence < 0.5


def test_threshold_moves_the_decision():
    start, end = logits(p0=2, p5=3), logits(p0=2, p5=3)  # span 6 vs null 4
    assert answer(start, end).text == "acme"
    assert answer(start, end, threshold=1.9).text == "acme"
    assert answer(start, end, threshold=2.0).abstained  # must beat the null by more
    assert answer(start, end, threshold=-3.0).text == "acme"


def test_a_negative_threshold_lets_a_weaker_span_answer():
    start, end = logits(p0=3, p6=1), logits(p0=3, p6=1)  # span 2 vs null 6
    assert answer(start, end).abstained
    assert answer(start, end, threshold=-5.0).text == "widgets"


def test_max_answer_tokens_limits_the_span():
    start, end = logits(p0=-5, p4=5, p5=1), logits(p0=-5, p7=5, p5=1)
    assert answer(start, end).text == "remove acme widgets now"
    # Four tokens are too long for 2: the best pair within reach is (5, 5) or (4, 5).
    assert answer(start, end, max_answer_tokens=2).text == "remove acme"
    assert answer(start, end, max_answer_tokens=1).text == "acme"  # 1 + 1 beats 5 - 10


def test_an_end_before_the_start_is_never_chosen():
    start, end = logits(p0=-5, p7=6, p4=0), logits(p0=-5, p4=6, p7=0)
    got = answer(start, end)
    # (7, 4) would score 12 but ends before it starts; (4, 4) and (7, 7) score 6.
    assert got.span_score == 6 and got.text in ("remove", "now")


def test_question_and_separator_tokens_are_never_an_answer():
    start, end = logits(p0=0, p1=9, p3=9, p8=9, p5=1), logits(p0=0, p2=9, p3=9, p8=9, p5=1)
    got = answer(start, end)
    assert got.text == "acme" and got.span_score == 2


def test_windows_combine_with_the_smallest_null_score():
    # Context of 6 tokens seen by two windows: tokens 0-3 and tokens 2-5.
    text = "a b c d e f"
    context = Context(text, list(range(6)), [(i * 2, i * 2 + 1) for i in range(6)])
    first = Window(0, [101, 7, 102, 0, 1, 2, 3, 102], [0] * 3 + [1] * 5, 3, 0, 4)
    second = Window(0, [101, 7, 102, 2, 3, 4, 5, 102], [0] * 3 + [1] * 5, 3, 2, 4)
    starts = np.full((2, 8), -10.0)
    ends = np.full((2, 8), -10.0)
    starts[0, 0] = ends[0, 0] = 4  # the first window sees no answer: null 8
    starts[1, 0] = ends[1, 0] = 1  # the second sees one: null 2, span "e" (position 5)
    starts[1, 5] = ends[1, 5] = 2
    got = best_answer([first, second], starts, ends, context)
    assert (got.text, got.start, got.end) == ("e", 8, 9)
    assert got.null_score == 2 and got.span_score == 4
    # The same span against the first window's null alone would abstain.
    alone = best_answer([second], starts[1:], ends[1:], context, threshold=6.5)
    assert alone.abstained


def test_an_empty_context_abstains():
    context = Context("", [], [])
    window = Window(0, [101, 5, 102, 102], [0, 0, 0, 1], 3, 0, 0)
    got = best_answer([window], np.array([[1.0, 0, 0, 0]]), np.array([[1.0, 0, 0, 0]]), context)
    assert got.abstained and got.span_score == -math.inf and got.confidence == 0.0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="no windows"):
        best_answer([], np.zeros((0, 9)), np.zeros((0, 9)), CONTEXT)
    with pytest.raises(ValueError, match="max_answer_tokens"):
        answer(logits(), logits(), max_answer_tokens=0)


def test_best_span_in_window_searches_every_pair():
    rng = np.random.default_rng(7)
    for _ in range(50):
        s, e = rng.normal(size=12), rng.normal(size=12)
        score, i, j = best_span_in_window(s, e, 2, 8, 3)
        brute = max((s[2 + a] + e[2 + b], a, b) for a in range(8) for b in range(a, min(8, a + 3)))
        assert (score, i, j) == pytest.approx(brute)


def test_an_answer_is_whole_words_never_part_of_one():
    # "keep docs." as the tokenizer cuts it: keep | doc ##s | . (word ids 0, 1, 1, 2)
    text = "keep docs."
    context = Context(text, [1, 2, 3, 4], [(0, 4), (5, 8), (8, 9), (9, 10)], [0, 1, 1, 2])
    window = Window(0, [101, 7, 102, 1, 2, 3, 4, 102], [0, 0, 0, 1, 1, 1, 1, 1], 3, 0, 4)
    # The logits favour "doc" (start and end on piece 1), which is not a whole word.
    start = np.array([[0.0, -9, -9, -9, 8, -9, -9, -9]])
    end = np.array([[0.0, -9, -9, -9, 8, 3, -9, -9]])
    got = best_answer([window], start, end, context)
    assert (got.text, got.span_score) == ("docs", 11)
    start[0, 5] = 12  # ...and the best start is the continuation piece "##s"
    assert best_answer([window], start, end, context).text == "docs"
    # Without word numbers every token is a word, as before.
    loose = Context(text, context.ids, context.offsets)
    assert best_answer([window], start, end, loose).text == "doc"


def test_word_edges_at_a_window_cut_inside_a_word():
    context = Context("", [1, 2, 3, 4, 5], [(i, i + 1) for i in range(5)], [0, 1, 1, 1, 2])
    begins, ends = context.word_edges(2, 2)  # the window holds the 2nd and 3rd piece of word 1
    assert begins.tolist() == [False, False] and ends.tolist() == [False, True]
    begins, ends = context.word_edges(0, 5)
    assert begins.tolist() == [True, True, False, False, True]
    assert ends.tolist() == [True, False, False, True, True]
